"""Weighted module probes build on the meta device and load their weights by assignment
(no default initialisation drawn on the CPU only to be overwritten). What they measure
must be exactly what the plain path measures (build on the CPU, `.to()`, copy the
weights in): for every exercise's reference, and for solutions that do things the meta
path cannot carry (a value read while building, a non-persistent buffer, a tensor kept
as a plain attribute), which must fall back to the plain path, never fail for it."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch
import torch.nn as nn

from grading.exercises import all_exercises
from grading.harness import probes_module

SLUGS = [ex.slug for ex in all_exercises()]


def _plain_only(monkeypatch) -> None:
    """Make the probes build every module on the CPU: the plain path, for comparison."""
    probes = probes_module()
    build = probes._build
    monkeypatch.setattr(
        probes, "_build", lambda factory, spec, meta=True: build(factory, spec, False)
    )


def _same(a, b, where: str = "") -> None:
    """Equal bit for bit: the same keys, the same arrays, the same errors."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), (where, a.keys(), b)
        for k in a:
            _same(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=True), where
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, (where, a, b)


@pytest.mark.parametrize("slug", SLUGS)
def test_the_meta_path_measures_every_reference_exactly_as_the_plain_path(slug, monkeypatch):
    ex = next(e for e in all_exercises() if e.slug == slug)
    plan = ex.build(seed=5, sample=False)
    measure = probes_module().measure
    fast = measure(plan.probes, plan.arrays, ex.reference_module())
    with monkeypatch.context() as m:
        _plain_only(m)
        plain = measure(plan.probes, plan.arrays, ex.reference_module())
    _same(fast, plain, slug)


def test_the_reference_networks_are_not_initialised_on_the_cpu(monkeypatch):
    """The builder's weighted probes (ResNets up to 50 layers) draw no default init on the
    CPU: every kaiming_uniform_ call lands on a meta tensor."""
    ex = next(e for e in all_exercises() if e.slug == "resnet-builder")
    plan = ex.build(seed=5, sample=False)
    weighted = [p for p in plan.probes if p.get("kind") == "module" and p.get("weights")]
    assert weighted, "the builder's plan has weighted probes"
    devices: list[str] = []
    original = nn.init.kaiming_uniform_

    def spy(tensor, *args, **kwargs):
        devices.append(tensor.device.type)
        return original(tensor, *args, **kwargs)

    monkeypatch.setattr(nn.init, "kaiming_uniform_", spy)
    result = probes_module().measure(weighted, plan.arrays, ex.reference_module())
    assert all(not r["errors"] for r in result.values()), result
    assert devices and set(devices) == {"meta"}, sorted(set(devices))


# Solutions the meta path cannot carry whole; each must measure as on the plain path.
class ReadsAValue(nn.Module):
    """Decides its structure from a weight's value: cannot be built on meta at all."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.extra = nn.Identity() if float(self.conv.weight.abs().sum()) > 0 else None

    def forward(self, x):
        return torch.relu(self.conv(x)) + x


class NonPersistentBuffer(nn.Module):
    """A buffer outside the state dict: left on meta by the loaded weights."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.register_buffer("scale", torch.full((1, 4, 1, 1), 0.5), persistent=False)

    def forward(self, x):
        return self.conv(x) * self.scale + x


class PlainTensorAttribute(nn.Module):
    """A tensor kept as a plain attribute: neither loaded nor moved by `.to()`."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.shift = torch.arange(4.0).reshape(1, 4, 1, 1)

    def forward(self, x):
        return self.bn(self.conv(x)) + self.shift.to(x) + x


def _spec_and_arrays(factory: str, **extra) -> tuple[dict, dict]:
    rng = np.random.default_rng(3)
    spec = {"id": "p", "kind": "module", "factory": factory, "weights": {"seed": 9}, **extra}
    arrays = {
        "p/x": rng.standard_normal((2, 4, 5, 5)),
        "p/grad_out": rng.standard_normal((2, 4, 5, 5)),
    }
    return spec, arrays


@pytest.mark.parametrize("cls", [ReadsAValue, NonPersistentBuffer, PlainTensorAttribute])
def test_what_meta_cannot_carry_is_measured_on_the_plain_path(cls, monkeypatch):
    solution = types.SimpleNamespace(Block=cls)
    spec, arrays = _spec_and_arrays("Block", mode="train")
    probes = probes_module()
    runs: list[bool] = []
    run_weighted = probes._run_weighted
    with monkeypatch.context() as m:
        m.setattr(
            probes,
            "_run_weighted",
            lambda *a, assign: runs.append(assign) or run_weighted(*a, assign=assign),
        )
        fast = probes.measure([spec], arrays, solution)["p"]
    assert not fast["errors"], fast["errors"]
    assert {"y", "dx", "dparams"} <= fast.keys()
    # Built on meta and tried there first, except what could not even be built on meta.
    assert runs == ([False] if cls is ReadsAValue else [True, False])
    measure = probes.measure
    with monkeypatch.context() as m:
        _plain_only(m)
        plain = measure([spec], arrays, solution)["p"]
    _same(fast, plain, cls.__name__)


def test_a_float32_probe_loads_float32_weights_on_the_meta_path(monkeypatch):
    """A device test's probe (float32) gets float32 parameters and the plain path's values;
    the integer BatchNorm counter keeps its own dtype."""
    solution = types.SimpleNamespace(Block=PlainTensorAttribute, Net=lambda: nn.Sequential(
        nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU()))  # fmt: skip
    spec, arrays = _spec_and_arrays("Net", dtype="float32", device="cpu")
    measure = probes_module().measure
    fast = measure([spec], arrays, solution)["p"]
    assert not fast["errors"], fast["errors"]
    with monkeypatch.context() as m:
        _plain_only(m)
        plain = measure([spec], arrays, solution)["p"]
    _same(fast, plain, "float32")
    # The meta path really ran: building on the CPU was never needed for this module.
    built: list[str] = []
    probes = probes_module()
    build = probes._build
    monkeypatch.setattr(
        probes, "_build", lambda f, s, meta=True: built.append(meta) or build(f, s, meta)
    )
    measure([spec], arrays, solution)
    assert built == [True]


def test_the_probes_import_nothing_that_a_warm_waiter_did_not_preload():
    """Every exercise's probes, run on its reference in a fresh interpreter that imported
    only what a warm waiter preloads: torch loads nothing more (above all not sympy with
    its symbolic shapes, 0.3-0.7 s of CPU), so no sandbox pays for imports in its job."""
    import json
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    code = textwrap.dedent(
        """
        import importlib, json, sys
        from sandbox.bootstrap import PRELOAD
        for name in PRELOAD:
            importlib.import_module(name)
        from grading.exercises import all_exercises
        from grading.harness import probes_module
        probes = probes_module()
        plans = [(ex, ex.build(seed=2, sample=s)) for ex in all_exercises() for s in (1, 0)]
        refs = [ex.reference_module() for ex, _ in plans]
        before = set(sys.modules)
        for (ex, plan), ref in zip(plans, refs):
            probes.measure(plan.probes, plan.arrays, ref)
        new = set(sys.modules) - before
        print(json.dumps(sorted(m for m in new if m.split(".")[0] in ("torch", "sympy"))))
        """
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1]) == []
