"""Production static files: collectstatic with WhiteNoise's manifest storage succeeds,
so a `DJANGO_DEBUG=0` deployment (and the app image) can be built."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_collectstatic_with_manifest_storage_succeeds_under_debug_0(tmp_path):
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "VAR_DIR": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    manifest = json.loads((tmp_path / "staticfiles" / "staticfiles.json").read_text())
    hashed = manifest["paths"]["vendor/chartjs/chart.umd.min.js"]
    assert (tmp_path / "staticfiles" / hashed).is_file()


def test_every_source_map_a_vendored_file_names_is_vendored_too():
    missing = []
    for path in (ROOT / "static").rglob("*"):
        if path.suffix not in (".js", ".css"):
            continue
        for name in re.findall(rb"sourceMappingURL=([^\s*]+)", path.read_bytes()):
            if not (path.parent / name.decode()).is_file():
                missing.append(f"{path.relative_to(ROOT)} -> {name.decode()}")
    assert missing == []
