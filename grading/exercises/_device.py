"""Device tests: a hidden plan's secret weights and inputs once more, with a GPU present.

The mistakes they catch pass every CPU test: a tensor made in `forward` without
`device=` (it lands on the CPU), a tensor kept as a plain attribute instead of a
registered buffer (`module.to(device)` leaves it behind), a CPU-only operation
(`.numpy()`), and a hard-coded `.cuda()` behind `torch.cuda.is_available()` (it moves a
CPU input to the GPU). So for every PyTorch exercise the device plan repeats:

- the first weighted module probe on the GPU in float64 and in float32, and on the CPU
  while a GPU is present; the at-scale probe (training mode) on the GPU in float32;
- the initialisation probes on the GPU.

Each is compared with the reference measured on the CPU in float64 with the same seed:
float64 within the CPU tests' tolerances, float32 within 1e-4 * |expected| + 1e-4 * the
largest |expected| of the array (rounding of 2^-24 summed over a few thousand terms stays
far inside; TF32 is switched off in the harness). The output must also come back on the
input's device. NumPy-only exercises (the backward pass by hand, the parameter counts)
have no device tests.

The device probes run in a job of their own on the GPU worker, after the CPU tests' job,
so a CPU test never runs with a GPU present: a mistake that shows only with a GPU fails
only device tests. As everywhere, the harness sends raw measurements and the worker
decides (_blocks.py).
"""

from __future__ import annotations

import numpy as np

from grading.compare import Missing, array, close_scaled
from grading.exercises import Check, TestPlan

CATEGORY = "device"
F64_TOL = {"rtol": 1e-6, "atol": 1e-8}
F32_TOL = {"rtol": 1e-4, "atol_of_max": 1e-4}
# (probe id suffix, device of the run, dtype, how the test names it)
RUNS = (
    ("gpu64", "cuda", "float64", "on the GPU, float64"),
    ("gpu32", "cuda", "float32", "on the GPU, float32"),
    ("cpu64", "cpu", "float64", "on the CPU with a GPU present"),
)


def has_device_tests(plan: TestPlan) -> bool:
    return any(_sources(plan))


def _sources(plan: TestPlan) -> list[dict]:
    modules = [p for p in plan.probes if p["kind"] == "module" and p.get("weights") is not None]
    picked = modules[:1] + [p for p in modules[1:] if p["id"] == "big"]
    return picked + [p for p in plan.probes if p["kind"] in ("init", "init_model")]


def device_plan(plan: TestPlan, *, device: str = "cuda") -> TestPlan:
    """The device tests for a hidden `plan`; `device` replaces "cuda" for a dry run."""
    probes: list[dict] = []
    checks: list[Check] = []
    for source in _sources(plan):
        sid = source["id"]
        if source["kind"] != "module":
            pid = f"{sid}@gpu"
            probes.append({**source, "id": pid, "source": sid, "device": device})
            checks += [
                Check(f"{c.name}, on the GPU", CATEGORY, pid, c.decide)
                for c in plan.checks
                if c.probe == sid
            ]
            continue
        label = _label(plan, sid)
        runs = RUNS[1:2] if sid == "big" else RUNS
        for suffix, where, dtype, words in runs:
            pid = f"{sid}@{suffix}"
            probes.append({
                **source, "id": pid, "source": sid, "arrays": source.get("arrays", sid),
                "device": device if where == "cuda" else "cpu", "dtype": dtype,
                "jacobian": False, "fd": False,
            })  # fmt: skip
            tol = F32_TOL if dtype == "float32" else F64_TOL
            name = f"{words}, {label}"
            checks.append(Check(f"output values {name}", CATEGORY, pid, _values("y", tol)))
            if f"{sid}/grad_out" in plan.arrays:
                checks.append(Check(f"input gradient {name}", CATEGORY, pid, _values("dx", tol)))
                if source.get("param_grads", True):
                    checks.append(Check(f"parameter gradients {name}", CATEGORY, pid,
                                        _param_grads(tol)))  # fmt: skip
            checks.append(
                Check(f"the output stays on the input's device, {name}", CATEGORY, pid,
                      _on_device(device.split(":")[0] if where == "cuda" else "cpu"))
            )  # fmt: skip
    return TestPlan(probes=probes, arrays=plan.arrays, checks=checks, context=plan.context)


def device_reference(plan: TestPlan, reference: dict) -> dict:
    """The reference for each device probe: its source probe's, measured on the CPU."""
    return {p["id"]: reference[p["source"]] for p in plan.probes if p["source"] in reference}


def _label(plan: TestPlan, pid: str) -> str:
    for check in plan.checks:
        if check.probe == pid and check.name.startswith("output values, "):
            return check.name.removeprefix("output values, ")
    return pid


_HINT = (
    "On a GPU every tensor must be where the input is: create new tensors with "
    "device=x.device (or torch.*_like), register constant tensors with register_buffer, "
    "keep NumPy out of forward, and never call .cuda() or .cpu() yourself."
)


def _values(key: str, tol: dict):
    what = {"y": "outputs", "dx": "input gradients"}[key]

    def decide(got: dict, want: dict) -> tuple[bool, str]:
        ok, detail = close_scaled(array(got, key), want[key], tol)
        if ok:
            return True, f"{what} match the CPU reference ({detail})"
        return False, f"{what} differ from the CPU reference: {detail}. {_HINT}"

    return decide


def _param_grads(tol: dict):
    def decide(got: dict, want: dict) -> tuple[bool, str]:
        grads = got.get("dparams")
        if not isinstance(grads, dict):
            raise Missing("dparams")
        wrong = [
            name
            for name, ref in want["dparams"].items()
            if not isinstance(grads.get(name), np.ndarray)
            or not close_scaled(grads[name], ref, tol)[0]
        ]
        if not wrong:
            return True, f"gradients of all {len(want['dparams'])} parameters match"
        return False, "wrong or missing gradient for: " + ", ".join(wrong[:6])

    return decide


def _on_device(kind: str):
    def decide(got: dict, want: dict) -> tuple[bool, str]:
        where = got.get("device")
        if not isinstance(where, str):
            raise Missing("device")
        if where.split(":")[0] == kind:
            return True, f"the output is on {where}, like the input"
        return False, f"the output is on {where[:40]}, the input was on {kind}. {_HINT}"

    return decide
