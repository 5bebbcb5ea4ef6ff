"""How each way a sandbox run can end maps to a verdict (real Docker sandbox)."""

from __future__ import annotations

import dataclasses

import pytest

from grading import engine
from grading.verdict import Verdict
from sandbox.types import Limits

pytestmark = pytest.mark.docker

SE_OK = """
import torch
import torch.nn as nn


class SEBlock(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        self.fc1 = nn.Linear(channels, channels // reduction)
        self.fc2 = nn.Linear(channels // reduction, channels)

    def forward(self, x):
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean(dim=(2, 3))))))[..., None, None]
"""


def _grade(source: str, image: str, **kwargs) -> Verdict:
    return engine.grade(exercise="se-block", source=source, backend="docker", image=image, **kwargs)


def test_sample_mode_runs_exactly_the_visible_sample_tests(sandbox_image):
    verdict = _grade(SE_OK, sandbox_image, sample=True)
    assert verdict.status == "passed"
    assert [t.name for t in verdict.tests] == engine.exercise_get("se-block").sample_test_names
    assert verdict.backend == "docker" and verdict.wall_s > 0


def test_the_starter_code_fails_every_test_with_the_not_implemented_error(sandbox_image):
    verdict = _grade(engine.exercise_get("se-block").starter_code, sandbox_image)
    assert verdict.status == "failed" and verdict.passed == 0
    assert all("NotImplementedError" in t.message for t in verdict.tests)


def test_an_error_at_import_is_a_runtime_error_with_the_traceback(sandbox_image):
    verdict = _grade("import torch\n\nx = torch.zeros(2) @ torch.zeros(3)\n", sandbox_image)
    assert verdict.status == "error" and verdict.error_kind == "runtime"
    assert "solution.py" in verdict.stderr_excerpt and "RuntimeError" in verdict.stderr_excerpt
    assert len(verdict.stderr_excerpt.encode()) <= 4096
    assert verdict.passed == 0


def test_an_endless_loop_is_a_timeout(sandbox_image):
    limits = dataclasses.replace(engine.exercise_get("se-block").limits, wall_s=8.0)
    verdict = _grade(SE_OK.replace("    def forward(self, x):\n",
                                   "    def forward(self, x):\n        while True:\n            pass\n"),
                     sandbox_image, limits=limits)  # fmt: skip
    assert verdict.status == "error" and verdict.error_kind == "timeout"


def test_a_memory_hog_is_a_memory_error(sandbox_image):
    source = "import torch\nhog = [torch.ones(64 * 1024 * 1024) for _ in range(40)]\n" + SE_OK
    verdict = _grade(source, sandbox_image)
    assert verdict.status == "error" and verdict.error_kind == "memory"


def test_a_print_flood_is_an_output_limit_error(sandbox_image):
    limits = Limits(wall_s=30.0, memory_mb=1024, output_bytes=256 * 1024)
    verdict = _grade("while True:\n    print('x' * 1000)\n", sandbox_image, limits=limits)
    assert verdict.status == "error" and verdict.error_kind == "output_limit"


def test_printing_a_little_does_not_disturb_the_result(sandbox_image):
    source = SE_OK.replace("    def forward(self, x):\n",
                           "    def forward(self, x):\n        print('debug', x.shape)\n")  # fmt: skip
    verdict = _grade(source, sandbox_image)
    assert verdict.status == "passed", [t for t in verdict.tests if not t.passed]
