"""Exercise 4: He initialization by hand, and torchvision's ResNet initialization."""

from __future__ import annotations

import math

import numpy as np

from grading.compare import Missing, Unusable
from grading.exercises import SOURCE, Check, Exercise, TestPlan
from grading.harness import fixtures_module
from grading.static import Rules, violations

SENTINEL = fixtures_module().SENTINEL  # what the harness fills tensors with beforehand

STATEMENT = """\
Write two functions.

`kaiming_normal_(tensor, mode="fan_in")` fills the weight of a Linear layer (shape
(out, in)) or a convolution (shape (out, in, kh, kw)) in place with samples of
N(0, 2 / fan) and returns the same tensor. fan_in = in * kh * kw, fan_out = out * kh * kw
(the receptive field is 1 for a Linear weight). Do not use `torch.nn.init` anywhere in
the file: compute the fan and draw the samples yourself (e.g. with `tensor.normal_`, under
`torch.no_grad()`). Any other mode raises `ValueError`.

`init_resnet(model, zero_init_residual=False)` initializes a torchvision-style ResNet:
every `nn.Conv2d` weight He-normal with mode "fan_out", every `nn.BatchNorm2d` weight 1 and
bias 0; with `zero_init_residual=True` the last BatchNorm of each residual branch gets
weight 0 (`bn3` of each block whose class is named `Bottleneck`, `bn2` of each
`BasicBlock`), so that the residual branch of every block adds nothing at the start: a
block with an identity shortcut starts as the identity (one with a projection shortcut
still passes its input through the 1x1 convolution). Leave other layers alone.

Tests: your functions run in the sandbox and only the filled tensors come back; every
statistic is computed by the grader. For several shapes and both modes the sample
standard deviation must be within a few percent of sqrt(2 / fan) (e.g. Conv2d(64, 64, 3):
fan_in 576, std 0.0589), the mean near 0, and about 68.3 % of the values within one
standard deviation (a normal, not a uniform); the tensor you get is a view into a larger
buffer, which must show it filled in place with nothing around it touched, and the same
tensor must be returned. Your source is read for any use of torch.nn.init (or of ways to
reach modules by computed names). init_resnet is checked parameter by parameter on a small
ResNet, from the values it leaves in every weight.
"""

STARTER = '''\
import math

import torch
import torch.nn as nn


def kaiming_normal_(tensor: torch.Tensor, mode: str = "fan_in") -> torch.Tensor:
    """Fill `tensor` in place with N(0, 2 / fan) and return it; fan from `mode`.

    Works for Linear (out, in) and Conv (out, in, kh, kw) weights. No torch.nn.init.
    """
    raise NotImplementedError


def init_resnet(model: nn.Module, zero_init_residual: bool = False) -> nn.Module:
    """He-normal (fan_out) for every Conv2d; BatchNorm weight 1, bias 0; optionally zero
    the last BatchNorm of every residual branch (bn3 of Bottleneck, bn2 of BasicBlock)."""
    raise NotImplementedError
'''

HINTS = [
    "ReLU zeroes half of its inputs, so to keep the scale of activations from layer to layer "
    "the weights need variance 2 / fan rather than 1 / fan. Which fan does each mode use?",
    "For a weight of shape (out, in, *kernel), the receptive field is the product of the "
    "kernel dimensions; fan_in = in * receptive, fan_out = out * receptive. Then "
    "tensor.normal_(0, math.sqrt(2 / fan)) inside torch.no_grad() works in place.",
    "In init_resnet walk model.modules(): Conv2d -> your kaiming_normal_(m.weight, "
    "mode='fan_out'); BatchNorm2d -> weight 1, bias 0. Then, if asked, a second pass: "
    "type(m).__name__ == 'Bottleneck' -> m.bn3.weight to 0; 'BasicBlock' -> m.bn2.weight to 0.",
]

SAMPLE_CASES = [((64, 64, 3, 3), None), ((128, 64, 3, 3), "fan_out")]
HIDDEN_SHAPES = [(128, 64, 3, 3), (96, 384), (64, 3, 7, 7), (128, 256, 1, 1), (200, 50)]


def _fan(shape: tuple[int, ...], mode: str) -> int:
    receptive = math.prod(shape[2:])
    return (shape[1] if mode == "fan_in" else shape[0]) * receptive


def _case(got: dict, index: int) -> dict:
    cases = got.get("cases")
    if not isinstance(cases, list) or index >= len(cases) or not isinstance(cases[index], dict):
        raise Missing("case")
    return cases[index]


def _filled(got: dict, index: int, shape, pad: tuple[int, int]) -> np.ndarray:
    """The values kaiming_normal_ left in the tensor, read off the raw buffer here."""
    case = _case(got, index)
    if case.get("error"):
        raise Unusable(f"kaiming_normal_ raised {str(case['error'])[:300]}")
    buffer = case.get("buffer")
    n = math.prod(shape)
    if not isinstance(buffer, np.ndarray) or buffer.shape != (pad[0] + n + pad[1],):
        raise Missing("buffer")
    return buffer[pad[0] : pad[0] + n]


def _stats(values: np.ndarray) -> tuple[float, float, float]:
    """Mean, sample std and the fraction within one std of the mean, computed here."""
    if not np.all(np.isfinite(values)) or values.size < 2:
        raise Unusable("the tensor holds non-finite values or is empty")
    mean = float(values.mean())
    std = float(values.std(ddof=1))
    frac = float(np.mean(np.abs(values - mean) <= std)) if std > 0 else 0.0
    return mean, std, frac


def _std_tolerance(n: int) -> float:
    # The sample std of n normals has relative error about 1/sqrt(2n); allow 5 of those,
    # and never less than 2 % (far below what a wrong fan, sqrt(2) or more, would give).
    return max(0.02, 5 / math.sqrt(2 * n))


def _decide_std(index: int, shape, mode: str, pad):
    expected = math.sqrt(2.0 / _fan(shape, mode))

    def decide(got: dict, want: dict) -> tuple[bool, str]:
        values = _filled(got, index, shape, pad)
        std = _stats(values)[1]
        tol = _std_tolerance(values.size)
        if abs(std / expected - 1) <= tol:
            return True, f"std {std:.5f}, sqrt(2/{mode}) = {expected:.5f}"
        return False, (
            f"std {std:.5f} but sqrt(2 / {mode}) = {expected:.5f} for shape {shape} "
            f"(tolerance {tol:.0%}): check which dimensions make up {mode}"
        )

    return decide


def _decide_mean(index: int, shape, pad):
    def decide(got: dict, want: dict) -> tuple[bool, str]:
        values = _filled(got, index, shape, pad)
        mean, std, _ = _stats(values)
        bound = 5 * max(std, 1e-12) / math.sqrt(values.size)
        if np.all(values != SENTINEL) and abs(mean) <= bound:
            return True, f"mean {mean:+.5f}"
        return False, f"mean {mean:+.5f}: He-normal samples are centred on 0"

    return decide


def _decide_normal(index: int, shape, pad):
    def decide(got: dict, want: dict) -> tuple[bool, str]:
        values = _filled(got, index, shape, pad)
        frac = _stats(values)[2]
        # About 68.3 % of a normal lies within one standard deviation; a uniform gives 57.7 %.
        # Five standard errors of that fraction, at least one point.
        tol = max(0.01, 5 * math.sqrt(0.6827 * 0.3173 / values.size))
        if abs(frac - 0.6827) <= tol:
            return True, f"{frac:.1%} of the values lie within one std of the mean"
        return False, (
            f"{frac:.1%} of the values lie within one std of the mean; a normal "
            "distribution has 68.3 %. Draw from a normal, not a uniform or a truncated one."
        )

    return decide


def _decide_in_place(cases: list[tuple[tuple[int, ...], tuple[int, int]]]):
    def decide(got: dict, want: dict) -> tuple[bool, str]:
        for i, (shape, pad) in enumerate(cases):
            values = _filled(got, i, shape, pad)
            buffer = _case(got, i)["buffer"]
            if _case(got, i).get("returned_given") is not True:
                return False, "kaiming_normal_ must return the tensor it was given"
            around = np.concatenate([buffer[: pad[0]], buffer[pad[0] + values.size :]])
            if np.any(values == SENTINEL) or np.any(around != SENTINEL):
                return False, (
                    "kaiming_normal_ must fill the given tensor in place (a view into a "
                    "larger buffer: every value of the view changed, nothing around it)"
                )
        return True, "fills the tensor in place and returns it"

    return decide


# Checked here, on the submitted text: see grading/static.py for why not at run time.
NO_NN_INIT = Rules(
    modules_allowed=frozenset(
        {"torch", "math", "numpy", "typing", "__future__", "collections", "functools"}
    ),
    modules_forbidden={"torch.nn.init": "compute the fan and draw the samples yourself"},
    attributes_forbidden={
        name: "torch.nn.init's initializers are what this exercise asks you to write"
        for name in (
            "init",
            "kaiming_normal_",
            "kaiming_uniform_",
            "xavier_normal_",
            "xavier_uniform_",
            "trunc_normal_",
            "calculate_gain",
            "_calculate_fan_in_and_fan_out",
            "_calculate_correct_fan",
            "reset_parameters",
        )
    },
)


def _decide_no_nn_init(got: dict, want: dict) -> tuple[bool, str]:
    found = violations(got["source"], NO_NN_INIT)
    if not found:
        return True, "no use of torch.nn.init in the source"
    return False, "; ".join(found[:5])


def _decide_bad_mode(got: dict, want: dict) -> tuple[bool, str]:
    error = _case(got, 0).get("error")
    if not isinstance(error, str):
        raise Missing("error")
    if error.startswith("ValueError"):
        return True, 'mode="fan_avg" raises ValueError'
    if error:
        return False, f'mode="fan_avg" should raise ValueError; it raised {error[:200]}'
    return False, 'mode="fan_avg" should raise ValueError; it returned normally'


def _params(got: dict) -> dict:
    params = got.get("params")
    if not isinstance(params, dict):
        raise Missing("params")
    return params


def _values(params: dict, name: str) -> np.ndarray:
    values = params.get(name)
    if not isinstance(values, np.ndarray):
        raise Missing(name)
    return values.reshape(-1)


def _decide_convs(got: dict, want: dict) -> tuple[bool, str]:
    layout = fixtures_module().small_resnet_layout()
    params, wrong = _params(got), []
    for name, fans in layout["conv"].items():
        values = _values(params, name)
        mean, std, _ = _stats(values)
        expected = math.sqrt(2.0 / fans["fan_out"])
        n = values.size
        if abs(std / expected - 1) > _std_tolerance(n) or abs(mean) > 5 * expected / math.sqrt(n):
            wrong.append(f"{name} (std {std:.4f}, expected {expected:.4f})")
    if not wrong:
        return True, f"all {len(layout['conv'])} convolutions are He-normal with fan_out"
    return False, "not He-normal with fan_out: " + "; ".join(wrong[:4])


def _decide_bn(flag: bool):
    def decide(got: dict, want: dict) -> tuple[bool, str]:
        layout = fixtures_module().small_resnet_layout()
        params, wrong = _params(got), []
        zeroed = set(layout["last_bn"]) if flag else set()
        for name in layout["bn_weight"] + layout["bn_bias"]:
            values = _values(params, name)
            target = 0.0 if (name in zeroed or name in layout["bn_bias"]) else 1.0
            if not np.all(values == target):
                wrong.append(f"{name} should be {target:g}")
        if not wrong:
            what = (
                "the last BatchNorm of each block has weight 0, the others 1"
                if flag
                else ("every BatchNorm has weight 1 and bias 0")
            )
            return True, what
        return False, "; ".join(wrong[:5])

    return decide


def build(*, seed: int, sample: bool) -> TestPlan:
    rng = np.random.default_rng(seed)
    if sample:
        cases = SAMPLE_CASES
    else:
        cases = [(s, m) for s in HIDDEN_SHAPES for m in ("fan_in", "fan_out")] + [
            (HIDDEN_SHAPES[0], None)
        ]
    # Secret sentinel padding around each tensor: it must be untouched afterwards.
    pads = [(int(rng.integers(1, 64)), int(rng.integers(1, 64))) for _ in cases]
    spec_cases = [
        {"shape": list(shape), "mode": mode, "seed": int(rng.integers(1 << 62)), "pad": list(pad)}
        for (shape, mode), pad in zip(cases, pads, strict=True)
    ]
    probes = [
        {"id": "k", "kind": "init", "fn": "kaiming_normal_", "cases": spec_cases},
        {"id": "bad", "kind": "init", "fn": "kaiming_normal_",
         "cases": [{"shape": [8, 4], "mode": "fan_avg", "seed": 0}]},
    ]  # fmt: skip
    checks = []
    for i, (shape, mode) in enumerate(cases):
        label = f"shape {tuple(shape)}, mode={mode or 'default (fan_in)'}"
        pad = pads[i]
        checks.append(
            Check(
                f"std = sqrt(2/fan), {label}",
                "init",
                "k",
                _decide_std(i, shape, mode or "fan_in", pad),
            )
        )
        checks.append(Check(f"mean near 0, {label}", "init", "k", _decide_mean(i, shape, pad)))
        checks.append(
            Check(f"normally distributed, {label}", "init", "k", _decide_normal(i, shape, pad))
        )
    checks.append(
        Check(
            "kaiming_normal_ works in place and returns the tensor",
            "init",
            "k",
            _decide_in_place(
                [(tuple(shape), pad) for (shape, _), pad in zip(cases, pads, strict=True)]
            ),
        )
    )
    checks.append(
        Check(
            "the source does not use torch.nn.init",
            "init",
            SOURCE,
            _decide_no_nn_init,
        )
    )
    checks.append(Check("kaiming_normal_ rejects an unknown mode with ValueError", "init", "bad",
                        _decide_bad_mode))  # fmt: skip
    for flag in (False, True):
        pid = f"net{int(flag)}"
        probes.append(
            {
                "id": pid,
                "kind": "init_model",
                "fn": "init_resnet",
                "flag": flag,
                "seed": int(rng.integers(1 << 62)),
            }
        )
        label = f"zero_init_residual={flag}"
        checks.append(
            Check(
                f"init_resnet: conv weights He-normal (fan_out), {label}",
                "init",
                pid,
                _decide_convs,
            )
        )
        checks.append(
            Check(
                f"init_resnet: BatchNorm weights and biases, {label}", "init", pid, _decide_bn(flag)
            )
        )
    return TestPlan(probes=probes, arrays={}, checks=checks)


EXERCISE = Exercise(
    slug="he-init",
    title="He initialization",
    statement=STATEMENT,
    starter_code=STARTER,
    hints=HINTS,
    reference="grading.exercises.he_init.reference",
    build=build,
)
