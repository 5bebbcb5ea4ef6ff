"""The secret weights both sides draw from a seed (grading/harness/fixtures.py).

The sandbox and the worker must draw the same numbers from the same seed, and the
numbers must make a good test: He-scaled so deep nets stay finite, positive BatchNorm
statistics, a different stream for every name (a swapped name changes the output), and
float32 drawn directly for float32 probes (ResNet-50 in the builder), rounded from the
same hash as float64.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from grading.exercises import all_exercises
from grading.harness import fixtures_module, probes_module

VARIANTS = Path(__file__).resolve().parent / "variants" / "resnet_builder"


@pytest.fixture
def fx():
    return fixtures_module()


def test_the_same_seed_and_name_give_the_same_values_and_others_do_not(fx):
    a = fx.seeded_value(11, "layer1.0.conv1.weight", [64, 64, 3, 3])
    assert np.array_equal(a, fx.seeded_value(11, "layer1.0.conv1.weight", [64, 64, 3, 3]))
    for other in (fx.seeded_value(12, "layer1.0.conv1.weight", [64, 64, 3, 3]),
                  fx.seeded_value(11, "layer1.0.conv2.weight", [64, 64, 3, 3])):  # fmt: skip
        assert np.count_nonzero(a == other) < 5
        assert abs(np.corrcoef(a.ravel(), other.ravel())[0, 1]) < 0.02


def test_values_fill_their_ranges_evenly(fx):
    bound = math.sqrt(6.0 / (256 * 9))
    w = fx.seeded_value(3, "conv.weight", [256, 256, 3, 3])
    assert w.dtype == np.float64 and -bound <= w.min() < -0.99 * bound
    assert 0.99 * bound < w.max() < bound
    assert abs(w.mean()) < 0.01 * bound and abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    # BatchNorm scale and variance in [0.5, 1.5), biases and means in [-0.2, 0.2)
    for name, low, high in (("bn.weight", 0.5, 1.5), ("bn.running_var", 0.5, 1.5),
                            ("bn.bias", -0.2, 0.2), ("bn.running_mean", -0.2, 0.2)):  # fmt: skip
        v = fx.seeded_value(3, name, [4096])
        assert low <= v.min() and v.max() < high and v.max() - v.min() > 0.99 * (high - low)
    counter = fx.seeded_value(3, "bn.num_batches_tracked", [])
    assert counter.dtype == np.int64 and counter == 0


def test_neighbouring_values_are_independent(fx):
    u = fx.seeded_value(9, "fc.bias", [1 << 20])
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01
    # every 2**15 values a new chunk starts: no seam
    assert abs(np.corrcoef(u[: 1 << 15], u[1 << 15 : 2 << 15])[0, 1]) < 0.03


def test_float32_values_are_the_float64_values_rounded_once(fx):
    shape = [512, 256, 3, 3]
    f64 = fx.seeded_value(5, "layer3.0.conv2.weight", shape)
    f32 = fx.seeded_value(5, "layer3.0.conv2.weight", shape, np.float32)
    assert f32.dtype == np.float32 and f32.shape == tuple(shape)
    # both come from the same 32-bit hash; float32 rounds (hash * scale + low) in float32
    assert np.allclose(f32, f64, rtol=0, atol=4 * np.finfo(np.float32).eps * np.abs(f64).max())


def test_resnet50_runs_in_float32_and_resnet18_in_float64():
    ex = next(e for e in all_exercises() if e.slug == "resnet-builder")
    plan = ex.build(seed=7, sample=False)
    by_id = {p["id"]: p for p in plan.probes}
    assert by_id["f50"].get("dtype") == "float32" and "dtype" not in by_id["f18"]


def _f50_value_check(source_path: Path) -> tuple[bool, str]:
    """ResNet-50's float32 value test, decided in-process on the reference's probes."""
    import importlib.util

    ex = next(e for e in all_exercises() if e.slug == "resnet-builder")
    plan = ex.build(seed=21, sample=False)
    probes = [p for p in plan.probes if p["id"] == "f50"]
    spec = importlib.util.spec_from_file_location("candidate_f50", source_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    measure = probes_module().measure
    got = measure(probes, plan.arrays, module)["f50"]
    want = measure(probes, plan.arrays, ex.reference_module())["f50"]
    assert got["y"].dtype == np.float64  # reported in float64 whatever the run's dtype
    check = next(c for c in plan.checks if c.probe == "f50" and c.name.startswith("output val"))
    return check.decide(got, want)


def test_resnet50_in_float32_passes_a_correct_builder_and_fails_the_v1_stride():
    """The only difference of torchvision's v1 from v1.5 (the stride on the first 1x1
    instead of the 3x3) leaves every name, shape and count alike: ResNet-50's values
    are what catches it, and float32 still does, by far."""
    ok, detail = _f50_value_check(VARIANTS / "correct_functional_blocks.py")
    assert ok, detail
    ok, detail = _f50_value_check(VARIANTS / "wrong_stride_on_first_1x1.py")
    assert not ok and "values are off" in detail, detail
