"""What the web pages need to know about the exercises, without importing torch.

The engine builds each exercise's test plans with torch; the web process only shows
titles, statements, starter code, hints, the sample tests' names and the limits. Those
are written once into `exercises/catalog.json` (`manage.py exercise_catalog`), and a test
fails when the file and the exercises disagree, so the two cannot drift. A web process
that lists or shows exercises stays at a few tens of MB instead of loading torch and
building eight test plans on its first exercise page.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sandbox.types import Limits

CATALOG_PATH = Path(__file__).resolve().parent / "exercises" / "catalog.json"


@dataclass(frozen=True)
class ExerciseSpec:
    slug: str
    title: str
    queue: str  # "grade.cpu" or "grade.gpu"
    starter_code: str
    hints: list[str]
    sample_test_names: list[str]
    limits: Limits
    statement: str = ""
    categories: list[str] = field(default_factory=list)
    device_tests: bool = False  # a PyTorch exercise: its hidden tests can also run on a GPU

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ExerciseSpec:
        return cls(**{**data, "limits": Limits(**data["limits"])})


@functools.cache
def _catalog() -> dict[str, ExerciseSpec]:
    specs = [ExerciseSpec.from_json(d) for d in json.loads(CATALOG_PATH.read_text())]
    return {spec.slug: spec for spec in specs}


def exercise_list() -> list[ExerciseSpec]:
    return list(_catalog().values())


def exercise_get(slug: str) -> ExerciseSpec:
    """KeyError for an unknown slug."""
    return _catalog()[slug]


def catalog_text(specs: list[ExerciseSpec]) -> str:
    return json.dumps([s.to_json() for s in specs], indent=1, sort_keys=True) + "\n"
