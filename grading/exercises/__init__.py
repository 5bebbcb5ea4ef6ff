"""The eight exercises: statement, starter code, hints, limits and test plans.

Each exercise is a package `grading/exercises/<name>/` with `__init__.py` (the spec and the
test plan) and `reference.py` (the reference solution). A reference is imported here, in
the worker, to compute expected values; it is never put into a sandbox job.

A test plan is built per run from a seed: the probes the harness runs (plain JSON), the
secret arrays sent with them (inputs.npz), and the checks that compare the candidate's
measurements with the reference's, one learner-facing test each.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np

from sandbox.types import Limits

CATEGORIES = ("shape", "params", "gradient", "init", "value", "device")

# A block needs a second or two after torch's import; the builder makes five full-size
# networks (ResNet-152 alone has 60 M parameters), hence more time and memory.
BLOCK_LIMITS = Limits(wall_s=60.0, memory_mb=1024, output_bytes=8 * 1024 * 1024)
BUILDER_LIMITS = Limits(wall_s=120.0, memory_mb=3072, output_bytes=8 * 1024 * 1024)

CheckFn = Callable[[dict, dict], tuple[bool, str]]

# The probe id of checks decided from the submitted text itself (grading.static), in the
# worker: such a check gets {"source": text} and an empty reference.
SOURCE = "<source>"


@dataclass(frozen=True)
class Check:
    """One learner-facing test: which probe it reads, and how it decides."""

    name: str
    category: str
    probe: str
    decide: CheckFn

    def __post_init__(self) -> None:
        assert self.category in CATEGORIES, self.category


@dataclass
class TestPlan:
    probes: list[dict]
    arrays: dict[str, np.ndarray]
    checks: list[Check]
    # Values computed outside that checks may need (e.g. the secret inputs themselves).
    context: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Exercise:
    slug: str
    title: str
    statement: str
    starter_code: str
    hints: list[str]
    reference: str  # dotted module path of the reference solution
    build: Callable[..., TestPlan]  # build(seed=int, sample=bool) -> TestPlan
    queue: str = "grade.cpu"
    limits: Limits = BLOCK_LIMITS

    def reference_module(self) -> ModuleType:
        return importlib.import_module(self.reference)


_PACKAGES = (
    "basic_block",
    "bottleneck_block",
    "preact_block",
    "he_init",
    "param_count",
    "resnet_builder",
    "se_block",
    "residual_backward",
)


def all_exercises() -> list[Exercise]:
    return [importlib.import_module(f"{__name__}.{name}").EXERCISE for name in _PACKAGES]
