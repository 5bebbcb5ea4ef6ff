"""Helpers for the loader tests: a writable copy of the fixture chapter and DB snapshots."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from quizbank.models import (
    Chapter,
    Choice,
    ExerciseStatement,
    Hint,
    Item,
    MockScript,
    MockStep,
    Part,
    Problem,
    ReviewDay,
    ReviewTask,
    RubricPoint,
    Skill,
)

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "mini"
REAL = Path(__file__).resolve().parents[2] / "quizbank" / "content" / "resnet"
CONTENT_MODELS = (
    Chapter,
    Part,
    Skill,
    Item,
    Choice,
    RubricPoint,
    Problem,
    Hint,
    ExerciseStatement,
    MockScript,
    MockStep,
    ReviewDay,
    ReviewTask,
)


def copy_fixture(tmp_path: Path) -> Path:
    target = tmp_path / "mini"
    shutil.copytree(FIXTURE, target)
    return target


def edit_yaml(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Load a YAML file, let `change` mutate the document, write it back."""
    document = yaml.safe_load(path.read_text())
    change(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


def find(entries: list[dict[str, Any]], slug: str) -> dict[str, Any]:
    return next(entry for entry in entries if entry.get("slug") == slug)


def snapshot() -> dict[str, Any]:
    """Every content row, field by field: equal snapshots mean nothing was written."""
    state: dict[str, Any] = {}
    for model in CONTENT_MODELS:
        rows = []
        for row in model.objects.order_by("pk"):
            values = {f.attname: getattr(row, f.attname) for f in model._meta.concrete_fields}
            rows.append(values)
        state[model.__name__] = rows
    state["task_items"] = sorted(ReviewTask.items.through.objects.values_list("pk", flat=True))
    state["skill_parts"] = sorted(Skill.parts.through.objects.values_list("pk", flat=True))
    return state
