"""Test plans shared by the exercises whose answer is an nn.Module (the blocks, SE).

For each configuration the harness builds the candidate's module, reports the names and
shapes of its parameters and state dict, loads the secret weights strictly (float64, eval
mode, so BatchNorm uses the secret running statistics), runs forward and backward with a
secret upstream gradient, and sends back the output and every gradient. The same probe
runs on the reference here, and the checks compare the two; parameter counts are computed
here from the shapes.

Why a patched harness cannot make a wrong block pass. The candidate's code shares the
harness's interpreter, so it can replace any probe and send any numbers it can compute.
No check reads a number the candidate computed *about* its code (a count, a statistic, a
"gradcheck passed"): every check compares raw outputs and gradients with the reference's
on secret weights and inputs. Outputs can only be right by computing the block. Gradients
are the subtle case: a block whose forward is right but whose backward is not (a detached
skip, a custom backward) could report finite differences of its own forward instead of
autograd's gradients. On the small configurations that is cheap, so they are not what a
verdict rests on: each exercise also has an "at scale" probe, in training mode (BatchNorm
on batch statistics couples every input to every output of its channel, so no sparsity
trick shortens it), whose input has tens of thousands of elements. Finite differences
there need two forward passes per input element and parameter, several TFLOP in all:
minutes of CPU against a 60 s limit (see each exercise's BIG configuration). The
self-consistency gradcheck (autograd against the candidate's own finite differences) is
kept as an extra that can fail, never as the test that decides the gradient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from grading.compare import Missing, array, close, close_scaled, fmt_shape, shape_map
from grading.exercises import Check, TestPlan
from grading.harness import fixtures_module

# float64 end to end: a correct solution differs from the reference by rounding only.
VALUE_TOL = {"rtol": 1e-6, "atol": 1e-8}
GRAD_TOL = {"rtol": 1e-6, "atol": 1e-8}
# float32 runs: relative 1e-4, plus 1e-4 of the largest expected magnitude (as the device
# tests compare float32 runs, grading/exercises/_device.py)
F32_VALUE_TOL = {"rtol": 1e-4, "atol_of_max": 1e-4}
# torch.autograd.gradcheck's defaults, against central differences with eps 1e-6.
GRADCHECK_TOL = {"rtol": 1e-3, "atol": 1e-5}

BLOCK_VALUE_HINT = (
    "Check the order of conv, BatchNorm and ReLU, which convolution carries the stride, "
    "where the skip is added and what the shortcut computes."
)
BLOCK_GRAD_HINT = (
    "Gradients must flow through both the branch and the skip path; a detached or "
    "non-additive skip changes them."
)


@dataclass(frozen=True)
class Config:
    label: str
    args: tuple
    x_shape: tuple[int, ...] = ()  # () = structure only (full-size parameter counts)
    kwargs: dict = field(default_factory=dict)
    mode: str = "eval"  # "train": BatchNorm on batch statistics (the at-scale probes)


@dataclass(frozen=True)
class SkipTest:
    """Zero the residual branch; the block must then be the identity or ReLU.

    Compared with the reference under the same zeroed branch, on an input too large for
    finite differences to stand in for the gradient."""

    config: Config
    zero: tuple[str, ...]  # state-dict entries set to 0
    expect: str  # "identity" or "relu"


def _reference_shapes(ref_cls, config: Config) -> dict[str, list[int]]:
    return {k: list(v) for k, v in _reference_layout(ref_cls, config)[0]}


def _out_shape(ref_cls, config: Config) -> tuple[int, ...]:
    return _reference_layout(ref_cls, config)[1]


def _reference_layout(ref_cls, config: Config) -> tuple[tuple, tuple[int, ...]]:
    """The reference's state-dict shapes and output shape for a config, built and run on
    the meta device (no weights drawn, no arithmetic) and kept: every plan asks for them
    again, and on the CPU they were a fifth of a worker's time per grading."""
    key = (ref_cls, config.args, tuple(sorted(config.kwargs.items())), tuple(config.x_shape))
    if key not in _LAYOUTS:
        with torch.device("meta"):
            module = ref_cls(*config.args, **config.kwargs).eval()
            state = tuple((k, tuple(v.shape)) for k, v in module.state_dict().items())
            out = ()
            if config.x_shape:
                with torch.no_grad():
                    out = tuple(module(torch.zeros(config.x_shape)).shape)
        _LAYOUTS[key] = (state, out)
    return _LAYOUTS[key]


_LAYOUTS: dict[tuple, tuple[tuple, tuple[int, ...]]] = {}


def block_plan(
    *,
    factory: str,
    ref_cls,
    seed: int,
    configs: list[Config],
    gradcheck: Config | None,
    skip: SkipTest | None,
    big: Config | None = None,
    value_hint: str = BLOCK_VALUE_HINT,
    grad_hint: str = BLOCK_GRAD_HINT,
) -> TestPlan:
    rng = np.random.default_rng(seed)
    fixtures = fixtures_module()
    probes: list[dict] = []
    arrays: dict[str, np.ndarray] = {}
    checks: list[Check] = []
    context: dict = {}

    def add_weighted_probe(pid: str, config: Config, *, zero=(), grad=True, jac=False, fd=False):
        shapes = _reference_shapes(ref_cls, config)
        state = fixtures.seeded_state(int(rng.integers(1 << 62)), shapes)
        for name in zero:
            state[name] = np.zeros_like(state[name])
        for name, value in state.items():
            arrays[f"{pid}/sd/{name}"] = value
        x = rng.standard_normal(config.x_shape)
        arrays[f"{pid}/x"] = x
        context[f"{pid}/x"] = x
        if grad:
            arrays[f"{pid}/grad_out"] = rng.standard_normal(_out_shape(ref_cls, config))
        probes.append(
            {
                "id": pid,
                "kind": "module",
                "factory": factory,
                "args": list(config.args),
                "kwargs": dict(config.kwargs),
                "weights": "arrays",
                "mode": config.mode,
                "jacobian": jac,
                "fd": fd,
                "eps": 1e-6,
                # Large arrays travel as float32: rounding (6e-8 relative) stays far
                # inside the 1e-6 tolerance, and the frame stays within the output limit.
                "f32": x.size > 4096,
            }
        )

    for i, config in enumerate(configs):
        pid = f"m{i}"
        if config.x_shape:
            add_weighted_probe(pid, config)
        else:
            probes.append(
                {"id": pid, "kind": "module", "factory": factory, "args": list(config.args),
                 "kwargs": dict(config.kwargs), "weights": None}
            )  # fmt: skip
        checks += structure_checks(pid, config.label)
        if config.x_shape:
            checks += forward_checks(pid, config.label, value_hint, grad_hint)
    if big is not None:
        add_weighted_probe("big", big)
        checks += forward_checks("big", big.label, value_hint, grad_hint)
    if gradcheck is not None:
        add_weighted_probe("gc", gradcheck, grad=False, jac=True, fd=True)
        checks.append(
            Check(f"gradcheck: autograd agrees with finite differences, {gradcheck.label}",
                  "gradient", "gc", check_gradcheck)
        )  # fmt: skip
    if skip is not None:
        add_weighted_probe("skip", skip.config, zero=skip.zero)
        checks += skip_checks(skip.expect, skip.config.label)
    return TestPlan(probes=probes, arrays=arrays, checks=checks, context=context)


# ------------------------------------------------------------------ checks


def structure_checks(pid: str, label: str) -> list[Check]:
    return [
        Check(f"parameter count, {label}", "params", pid, check_param_total),
        Check(f"parameters per submodule, {label}", "params", pid, check_param_children),
        Check(f"state dict loads strictly (names and shapes), {label}", "params", pid,
              check_state_dict),
    ]  # fmt: skip


def forward_checks(
    pid: str, label: str, value_hint: str = BLOCK_VALUE_HINT, grad_hint: str = BLOCK_GRAD_HINT
) -> list[Check]:
    return [
        Check(f"output shape, {label}", "shape", pid, check_output_shape),
        Check(f"output values, {label}", "value", pid, output_values_check(value_hint)),
        Check(f"input gradient, {label}", "gradient", pid, input_grad_check(grad_hint)),
        Check(f"parameter gradients, {label}", "gradient", pid, check_param_grads),
    ]


def param_counts(result: dict) -> tuple[int, dict[str, int]]:
    """Total and per-child parameter counts, computed here from the reported shapes."""
    shapes = shape_map(result.get("param_shapes"))
    children: dict[str, int] = {}
    for name, shape in shapes.items():
        if "." in name:
            child = name.split(".", 1)[0]
            children[child] = children.get(child, 0) + math.prod(shape)
    return sum(math.prod(s) for s in shapes.values()), children


def check_param_total(got: dict, want: dict) -> tuple[bool, str]:
    n, m = param_counts(got)[0], param_counts(want)[0]
    if n == m:
        return True, f"{n:,} parameters"
    return False, f"your module has {n:,} parameters; the interface implies {m:,}"


def check_param_children(got: dict, want: dict) -> tuple[bool, str]:
    g, w = param_counts(got)[1], param_counts(want)[1]
    w = {k: v for k, v in w.items() if v}  # parameter-free children (ReLU) are optional
    g_nonzero = {k: v for k, v in g.items() if v}
    if g_nonzero == w:
        return True, "every submodule has the expected number of parameters"
    problems = []
    for name in sorted(set(w) | set(g_nonzero)):
        if name not in g_nonzero:
            problems.append(f"{name}: missing (expected {w[name]:,} parameters)")
        elif name not in w:
            problems.append(f"{name}: not in the interface ({g_nonzero[name]:,} parameters)")
        elif g_nonzero[name] != w[name]:
            problems.append(f"{name}: {g_nonzero[name]:,} parameters, expected {w[name]:,}")
    return False, "; ".join(problems[:6])


def _listed(names: list[str], limit: int = 40) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def check_state_dict(got: dict, want: dict) -> tuple[bool, str]:
    load_error = got.get("errors", {}).get("load") if isinstance(got.get("errors"), dict) else None
    g, w = shape_map(got.get("state_shapes")), shape_map(want["state_shapes"])
    if g == w and not load_error:
        return True, f"{len(w)} entries match"
    problems = []
    missing = sorted(set(w) - set(g))
    unexpected = sorted(set(g) - set(w))
    # Every key is listed (up to 40 of each): one dropped name hides the fix.
    if missing:
        problems.append(f"missing ({len(missing)}): " + _listed(missing))
    if unexpected:
        problems.append(f"unexpected ({len(unexpected)}): " + _listed(unexpected))
    wrong_shape = [
        f"{name} has shape {fmt_shape(g[name])}, expected {fmt_shape(w[name])}"
        for name in sorted(set(g) & set(w))
        if g[name] != w[name]
    ]
    if wrong_shape:
        problems.append("; ".join(wrong_shape[:20]))
    if not problems and load_error:
        problems.append(str(load_error)[:300])
    return False, "; ".join(problems)


def check_output_shape(got: dict, want: dict) -> tuple[bool, str]:
    y, ref = array(got, "y"), want["y"]
    if y.shape == ref.shape:
        return True, f"output shape {fmt_shape(y.shape)}"
    return False, (
        f"output shape {fmt_shape(y.shape)}, expected {fmt_shape(ref.shape)}: check the "
        "stride (which convolution carries it), padding and the number of output channels"
    )


def _values(got: dict, want: dict, key: str, what: str, hint: str, tol: dict):
    y, ref = array(got, key), want[key]
    ok, detail = close_scaled(y, ref, tol) if "atol_of_max" in tol else close(y, ref, **tol)
    if ok:
        return True, f"{what} match the reference ({detail})"
    return False, f"{what} differ from the reference: {detail}. {hint}"


def output_values_check(hint: str, *, float32: bool = False):
    """Outputs against the reference's: float64 within VALUE_TOL, or, for a probe run in
    float32 (spec "dtype"), within F32_VALUE_TOL (both sides round alike; a wrong
    structure is off by far more)."""
    tol = F32_VALUE_TOL if float32 else VALUE_TOL

    def check_output_values(got: dict, want: dict) -> tuple[bool, str]:
        return _values(got, want, "y", "outputs", hint, tol)

    return check_output_values


def input_grad_check(hint: str):
    def check_input_grad(got: dict, want: dict) -> tuple[bool, str]:
        return _values(got, want, "dx", "input gradients", hint, GRAD_TOL)

    return check_input_grad


def check_param_grads(got: dict, want: dict) -> tuple[bool, str]:
    g = got.get("dparams")
    if not isinstance(g, dict):
        raise Missing("dparams")
    w = want["dparams"]
    wrong = []
    for name, ref in w.items():
        value = g.get(name)
        if not isinstance(value, np.ndarray) or not close(value, ref, **GRAD_TOL)[0]:
            wrong.append(name)
    if not wrong:
        return True, f"gradients of all {len(w)} parameters match the reference"
    return False, "wrong or missing gradient for: " + ", ".join(wrong[:6])


def check_gradcheck(got: dict, want: dict) -> tuple[bool, str]:
    jac, fd = array(got, "jac"), array(got, "fd_jac")
    if not close(want["jac"], want["fd_jac"], **GRADCHECK_TOL)[0]:
        # A ReLU input fell within eps of its kink, so finite differences are off for the
        # reference too: judge against the reference's own Jacobians instead.
        ok = close(jac, want["jac"], **GRAD_TOL)[0] and close(fd, want["fd_jac"], **GRAD_TOL)[0]
        detail = "checked against the reference (an input sat on a ReLU kink)"
        return ok, detail if ok else "autograd's Jacobian differs from the reference's"
    ok, detail = close(jac, fd, **GRADCHECK_TOL)
    if ok:
        return True, f"analytical and numerical Jacobians agree ({detail})"
    return False, (
        f"the gradient autograd computes disagrees with finite differences of your forward "
        f"pass: {detail}. Something in forward is detached or a custom backward is wrong."
    )


def skip_checks(expect: str, label: str) -> list[Check]:
    what = "x exactly" if expect == "identity" else "ReLU(x)"

    def decide_value(got: dict, want: dict) -> tuple[bool, str]:
        ok, detail = close(array(got, "y"), want["y"], **VALUE_TOL)
        if ok:
            return True, f"the block returns {what}"
        return False, (
            f"with the residual branch zeroed the block should return {what}; it does not "
            f"({detail}). Check what is applied after the addition and how the skip is added."
        )

    def decide_grad(got: dict, want: dict) -> tuple[bool, str]:
        ok, detail = close(array(got, "dx"), want["dx"], **GRAD_TOL)
        if ok:
            return True, "the skip path carries the gradient unchanged"
        return False, (
            f"with the residual branch zeroed the input gradient should be what the skip "
            f"path passes back; it is not ({detail}). The skip must carry the gradient "
            "unchanged: nothing detached, nothing scaled."
        )

    return [
        Check(f"skip path: zeroed branch gives {what}, {label}", "value", "skip", decide_value),
        Check(f"skip path: the gradient flows through the skip, {label}", "gradient", "skip",
              decide_grad),
    ]  # fmt: skip
