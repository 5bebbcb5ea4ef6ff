"""The web process knows the exercises from catalog.json and never imports torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from grading.catalog import CATALOG_PATH, catalog_text

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_the_catalog_file_says_what_the_exercises_say():
    from grading.engine import exercise_catalog

    assert CATALOG_PATH.read_text() == catalog_text(exercise_catalog()), (
        "grading/exercises/catalog.json is stale: run `python manage.py exercise_catalog`"
    )


WEB_PROCESS = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns  # imports every view module of every app
from grading import catalog, dispatch, selectors, views
specs = catalog.exercise_list()
assert len(specs) == 8
for spec in specs:
    dispatch.grading_queue(spec=spec), dispatch.grading_limits(spec=spec)
    views._spec_or_404(spec.slug)
print("torch loaded:", "torch" in sys.modules, "numpy loaded:", "numpy" in sys.modules)
"""


def test_a_web_process_serves_exercise_pages_without_importing_torch():
    run = subprocess.run(
        [sys.executable, "-c", WEB_PROCESS],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "torch loaded: False" in run.stdout
