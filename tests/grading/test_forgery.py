"""Attempts to forge a verdict from inside the sandbox fail.

Every attempt runs through the real Docker sandbox, as a candidate's code would.
"""

from __future__ import annotations

import pytest

from grading import engine
from grading.verdict import Verdict
from tests.grading.pooled import sandbox_mode  # noqa: F401 - each test cold and pooled

pytestmark = pytest.mark.docker

STARTER = engine.exercise_get("se-block").starter_code

# SE block with its own skip added: shapes and parameter counts are right, values are not.
WRONG_SE = """
import torch
import torch.nn as nn


class SEBlock(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        self.fc1 = nn.Linear(channels, channels // reduction)
        self.fc2 = nn.Linear(channels // reduction, channels)

    def forward(self, x):
        g = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean(dim=(2, 3))))))
        return x + x * g[:, :, None, None]
"""

# Pre-activation block whose skip is detached: the forward is right, gradients are not.
DETACHED_PREACT = """
import torch.nn as nn
import torch.nn.functional as F


class PreActBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)

    def forward(self, x):
        out = F.relu(self.bn1(x))
        identity = x.detach() if self.shortcut is None else self.shortcut(out).detach()
        return self.conv2(F.relu(self.bn2(self.conv1(out)))) + identity
"""

FAKE_PAYLOAD = """
import base64, json, os, sys
_fake = {"probes": {pid: {"errors": {}, "params_total": 8464} for pid in ["m0", "m1", "m2"]}}
_body = base64.b64encode(json.dumps(_fake).encode()).decode()
"""


def _grade(exercise: str, source: str, image: str) -> Verdict:
    return engine.grade(exercise=exercise, source=source, backend="docker", image=image)


def test_printing_a_fake_result_passes_nothing(sandbox_image):
    source = (
        FAKE_PAYLOAD
        + """
for nonce in ["0" * 32, "deadbeef" * 4]:
    frame = f"\\n{nonce}:{_body}:{nonce}\\n"
    print(frame)
    sys.__stdout__.write(frame)
    sys.__stdout__.flush()
    os.write(1, frame.encode())
"""
        + STARTER
    )
    verdict = _grade("se-block", source, sandbox_image)
    assert verdict.status == "failed"
    assert verdict.passed == 0 and verdict.total > 0


def test_replacing_torch_comparisons_does_not_make_wrong_values_pass(sandbox_image):
    source = (
        """
import numpy
import torch
import torch.testing

torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.isclose = lambda a, b, *r, **k: torch.ones_like(a, dtype=torch.bool)
torch.testing.assert_close = lambda *a, **k: None
numpy.allclose = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
"""
        + WRONG_SE
    )
    verdict = _grade("se-block", source, sandbox_image)
    assert verdict.status == "failed"
    values = [t for t in verdict.tests if t.category == "value"]
    assert values and not any(t.passed for t in values)


def test_replacing_autograd_does_not_make_wrong_gradients_pass(sandbox_image):
    source = (
        """
import torch
import torch.autograd

_zeros = lambda outputs, inputs, *a, **k: tuple(torch.zeros_like(i) for i in inputs)
torch.autograd.grad = _zeros
torch.autograd.gradcheck = lambda *a, **k: True
torch.autograd.gradgradcheck = lambda *a, **k: True
torch.Tensor.backward = lambda self, *a, **k: None
"""
        + DETACHED_PREACT
    )
    verdict = _grade("preact-block", source, sandbox_image)
    assert verdict.status == "failed"
    gradients = [t for t in verdict.tests if t.category == "gradient"]
    assert [t for t in gradients if not t.passed]
    assert not any(t.passed for t in gradients if t.name.startswith("input gradient"))


@pytest.mark.parametrize("exit_call", ["os._exit(0)", "sys.exit(0)", "raise SystemExit(0)"])
def test_exiting_0_before_the_tests_is_an_error_with_no_test_passed(exit_call, sandbox_image):
    source = f"import os, sys\n{exit_call}\n" + WRONG_SE
    verdict = _grade("se-block", source, sandbox_image)
    assert verdict.status == "error" and verdict.error_kind == "runtime"
    assert verdict.passed == 0 and verdict.total > 0


def test_exiting_0_in_the_middle_of_the_tests_is_an_error(sandbox_image):
    source = WRONG_SE.replace(
        "        g = torch", "        import os\n        os._exit(0)\n        g = torch"
    )
    verdict = _grade("se-block", source, sandbox_image)
    assert verdict.status == "error" and verdict.passed == 0


def test_writing_a_forged_frame_with_the_stolen_nonce_into_the_result_channel_fails(
    sandbox_image,
):
    # The nonce and the private descriptor are reachable from the harness's frame; a frame
    # written there can only claim what the candidate can compute, and the harness's own
    # frame then makes two: the run fails closed.
    source = (
        FAKE_PAYLOAD
        + """
_frame = sys._getframe()
while _frame is not None and "nonce" not in _frame.f_locals:
    _frame = _frame.f_back
_nonce, _fd = _frame.f_locals["nonce"], _frame.f_locals["result_fd"]
os.write(_fd, f"\\n{_nonce}:{_body}:{_nonce}\\n".encode())
for _name in os.listdir("/proc/self/fd"):
    try:
        os.write(int(_name), f"\\n{_nonce}:{_body}:{_nonce}\\n".encode())
    except OSError:
        pass
"""
        + WRONG_SE
    )
    verdict = _grade("se-block", source, sandbox_image)
    assert verdict.status in ("error", "failed")
    assert verdict.passed == 0


def test_a_forged_frame_followed_by_an_exit_only_gets_what_it_claims_correctly(sandbox_image):
    source = (
        FAKE_PAYLOAD
        + """
_frame = sys._getframe()
while _frame is not None and "nonce" not in _frame.f_locals:
    _frame = _frame.f_back
_nonce, _fd = _frame.f_locals["nonce"], _frame.f_locals["result_fd"]
os.write(_fd, f"\\n{_nonce}:{_body}:{_nonce}\\n".encode())
os._exit(0)
"""
    )
    verdict = _grade("se-block", source, sandbox_image)
    assert verdict.status == "failed"
    assert not any(t.passed for t in verdict.tests if t.category in ("value", "gradient", "shape"))


def test_the_harness_plan_inputs_and_reference_are_not_readable_from_the_solution(
    sandbox_image,
):
    source = """
import os

PACKAGES = {"basic_block", "bottleneck_block", "preact_block", "he_init", "param_count",
            "resnet_builder", "se_block", "residual_backward"}
found = [name for name in ("harness.py", "probes.py", "fixtures.py", "plan.json", "inputs.npz")
         if os.path.exists(name)]
for root, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
    if os.path.basename(root) in PACKAGES and "reference.py" in files:
        found.append(root)
    found += [os.path.join(root, d) for d in dirs if d in ("grading", "exercises", "harness")]
raise RuntimeError(f"FOUND: {sorted(found)} in {sorted(os.listdir('.'))}")
"""
    verdict = _grade("se-block", source, sandbox_image)
    assert verdict.status == "error" and verdict.error_kind == "runtime"
    assert "FOUND: [] in ['solution.py']" in verdict.stderr_excerpt
