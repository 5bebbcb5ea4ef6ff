"""The grading engine without a sandbox: specs, plans, framing, comparisons, facts.

What needs a real sandbox (variants, forgery, wall times) lives in test_engine_variants.py
and test_forgery.py.
"""

from __future__ import annotations

import ast
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from grading import engine
from grading.compare import Malformed, Missing, array, parse_frame
from grading.exercises import all_exercises
from grading.harness import harness_files, harness_module, probes_module
from grading.verdict import outcomes_compute

ROOT = Path(__file__).resolve().parents[2]
SLUGS = [
    "basic-block",
    "bottleneck-block",
    "preact-block",
    "he-init",
    "param-count",
    "resnet-builder",
    "se-block",
    "residual-backward",
]


def _exercise(slug):
    return next(ex for ex in all_exercises() if ex.slug == slug)


# ------------------------------------------------------------------ specs


def test_the_eight_exercises_are_listed_with_starter_code_hints_and_sample_tests():
    specs = engine.exercise_list()
    assert [s.slug for s in specs] == SLUGS
    for spec in specs:
        assert spec.queue == "grade.cpu"
        assert len(spec.hints) == 3 and all(len(h) > 40 for h in spec.hints)
        assert "NotImplementedError" in spec.starter_code
        compile(spec.starter_code, "starter.py", "exec")
        assert spec.sample_test_names, spec.slug
        assert spec.limits.output_bytes >= 4 * 1024 * 1024
        assert spec.statement


def test_the_builder_gets_more_time_and_memory_than_a_block():
    builder, block = engine.exercise_get("resnet-builder"), engine.exercise_get("basic-block")
    assert builder.limits.wall_s > block.limits.wall_s
    assert builder.limits.memory_mb > block.limits.memory_mb


def test_an_unknown_exercise_is_a_key_error():
    with pytest.raises(KeyError):
        engine.exercise_get("vgg-block")
    with pytest.raises(KeyError):
        engine.grade(exercise="vgg-block", source="x = 1")


@pytest.mark.parametrize("slug", SLUGS)
def test_hidden_tests_use_other_shapes_than_the_sample_tests(slug):
    ex = _exercise(slug)
    sample = {c.name for c in ex.build(seed=1, sample=True).checks}
    hidden = {c.name for c in ex.build(seed=1, sample=False).checks}
    assert len(hidden - sample) > len(sample) / 2
    if slug.endswith("-block"):
        assert not sample & hidden, sample & hidden


@pytest.mark.parametrize("slug", SLUGS)
def test_hidden_inputs_depend_on_the_secret_seed(slug):
    ex = _exercise(slug)
    a, b = ex.build(seed=1, sample=False), ex.build(seed=2, sample=False)
    assert json.dumps(a.probes) != json.dumps(b.probes) or any(
        not np.array_equal(a.arrays[k], b.arrays[k]) for k in a.arrays
    )


def test_every_test_has_one_of_the_five_categories_and_a_unique_name():
    for ex in all_exercises():
        checks = ex.build(seed=5, sample=False).checks
        assert {c.category for c in checks} <= {"shape", "params", "gradient", "init", "value"}
        assert len({c.name for c in checks}) == len(checks), ex.slug


# ------------------------------------------------------------------ references


@pytest.mark.parametrize("slug", SLUGS)
def test_the_reference_passes_its_own_checks_through_the_harness_probes(slug):
    ex = _exercise(slug)
    plan = ex.build(seed=11, sample=False)
    got = probes_module().measure(plan.probes, plan.arrays, ex.reference_module())
    want = engine.reference_measure(exercise=ex, plan=plan)
    outcomes = outcomes_compute(plan=plan, candidate=got, reference=want)
    assert outcomes and all(o.passed for o in outcomes), [o for o in outcomes if not o.passed]


def test_the_reference_residual_backward_matches_torch_autograd():
    from grading.exercises.residual_backward.reference import residual_backward

    rng = np.random.default_rng(0)
    x, w1, w2, g = (rng.standard_normal(s) for s in [(5, 4), (6, 4), (4, 6), (5, 4)])
    tx, t1, t2 = (torch.tensor(a, requires_grad=True) for a in (x, w1, w2))
    y = tx + torch.relu(tx @ t1.T) @ t2.T
    y.backward(torch.tensor(g))
    for mine, auto in zip(residual_backward(x, w1, w2, g), (tx, t1, t2), strict=True):
        np.testing.assert_allclose(mine, auto.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_block_parameter_counts_match_resnet_facts():
    from grading.exercises.basic_block.reference import BasicBlock
    from grading.exercises.bottleneck_block.reference import Bottleneck
    from grading.exercises.se_block.reference import SEBlock

    def n(m, convs_only=False):
        return sum(
            p.numel() for name, p in m.named_parameters() if not convs_only or (p.dim() == 4)
        )

    assert n(BasicBlock(64, 64)) == 73_984
    assert n(BasicBlock(64, 128, 2)) == 230_144
    assert n(Bottleneck(256, 64)) == 70_400
    assert n(Bottleneck(64, 64)) == 75_008
    assert n(Bottleneck(256, 128, 2)) == 379_392
    assert [n(BasicBlock(64, 64), True), n(BasicBlock(64, 128, 2), True)] == [73_728, 229_376]
    assert [n(Bottleneck(256, 64), True), n(Bottleneck(64, 64), True)] == [69_632, 73_728]
    assert n(SEBlock(256, 16)) == 8_464
    assert sum(p.numel() for p in SEBlock(256, 16).parameters() if p.dim() == 2) == 8_192


def test_resnet_parameter_counts_match_torchvision_and_the_closed_forms():
    from grading.exercises.param_count import reference as counts
    from grading.exercises.resnet_builder.reference import resnet

    facts = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160, 152: 60_192_808}
    for depth, expected in facts.items():
        with torch.device("meta"):
            model = resnet(depth)
        assert sum(p.numel() for p in model.parameters()) == expected
        assert counts.count_params_resnet(depth) == expected
    with torch.device("meta"):
        assert sum(p.numel() for p in resnet(50, 7).parameters()) == counts.count_params_resnet(
            50, 7
        )
    assert counts.count_params_basic(64) == 73_728
    assert counts.count_params_bottleneck(256) == 69_632
    assert round(counts.count_params_bottleneck(256) / counts.count_params_basic(256), 3) == 0.059


def test_resnet50_stage_shapes_match_resnet_facts():
    from grading.exercises.resnet_builder.reference import resnet

    model = resnet(50).eval()
    shapes = []
    x = torch.zeros(1, 3, 224, 224)
    with torch.no_grad():
        x = model.relu(model.bn1(model.conv1(x)))
        shapes.append(tuple(x.shape[1:]))
        for layer in (model.maxpool, model.layer1, model.layer2, model.layer3, model.layer4):
            x = layer(x)
            shapes.append(tuple(x.shape[1:]))
    assert shapes == [(64, 112, 112), (64, 56, 56), (256, 56, 56), (512, 28, 28),
                      (1024, 14, 14), (2048, 7, 7)]  # fmt: skip


def test_he_init_reference_std_matches_resnet_facts():
    from grading.exercises.he_init.reference import kaiming_normal_

    torch.manual_seed(0)
    w = kaiming_normal_(torch.empty(64, 64, 3, 3))
    assert abs(float(w.std()) - math.sqrt(2 / 576)) < 1e-3
    assert round(math.sqrt(2 / 576), 7) == 0.0589256
    assert round(math.sqrt(2 / (128 * 9)), 6) == 0.041667


# ------------------------------------------------------------------ the job


def _function_sources(path: Path) -> list[str]:
    source = path.read_text()
    tree = ast.parse(source)
    return [
        ast.get_source_segment(source, node)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
    ]


@pytest.mark.parametrize("slug", SLUGS)
def test_the_job_carries_no_reference_source(slug):
    ex = _exercise(slug)
    plan = ex.build(seed=3, sample=False)
    job = engine.job_build(plan=plan, source="x = 1\n", nonce="n" * 32)
    assert set(job.files) == {
        "solution.py",
        "harness.py",
        "probes.py",
        "fixtures.py",
        "plan.json",
        "inputs.npz",
    }
    references = sorted((ROOT / "grading" / "exercises").glob("*/reference.py"))
    assert len(references) == 8
    for name, data in job.files.items():
        text = data.decode("latin-1")
        assert "grading.exercises" not in text, name
        for path in references:
            assert path.read_text() not in text
            for function in _function_sources(path):
                assert function not in text, (name, path.parent.name, function[:60])


def test_the_inputs_load_without_pickle_and_the_plan_is_plain_json():
    ex = _exercise("basic-block")
    plan = ex.build(seed=3, sample=False)
    job = engine.job_build(plan=plan, source="", nonce="a" * 32)
    with np.load(io.BytesIO(job.files["inputs.npz"]), allow_pickle=False) as npz:
        assert set(npz.files) == set(plan.arrays)
        assert all(npz[k].dtype.kind in "fi" for k in npz.files)
    assert json.loads(job.files["plan.json"])["nonce"] == "a" * 32
    assert {name: job.files[name] for name in harness_files()} == harness_files()


# ------------------------------------------------------------------ validation


def test_a_source_over_64_kib_is_refused():
    with pytest.raises(ValueError, match="64 KiB"):
        engine.grade(exercise="se-block", source="#" * (64 * 1024 + 1))


def test_a_source_that_is_not_utf8_is_refused():
    with pytest.raises(ValueError, match="UTF-8"):
        engine.grade(exercise="se-block", source=b"x = '\xff'\n")
    with pytest.raises(ValueError, match="UTF-8"):
        engine.grade(exercise="se-block", source="x = '\udcff'\n")


def test_a_syntax_error_is_reported_with_its_line_and_nothing_runs():
    source = "import torch\n\nclass SEBlock(torch.nn.Module)\n    pass\n"
    verdict = engine.grade(exercise="se-block", source=source, backend="none")
    assert verdict.status == "error" and verdict.error_kind == "syntax"
    assert "line 3" in verdict.stderr_excerpt
    assert verdict.passed == 0 and verdict.total == len(verdict.tests) > 0
    assert verdict.score == 0.0
    assert all("line 3" in t.message for t in verdict.tests)


def test_no_sandbox_is_a_sandbox_error_that_says_how_to_enable_one():
    verdict = engine.grade(exercise="param-count", source="x = 1\n", backend="none", sample=True)
    assert verdict.status == "sandbox_error" and verdict.error_kind == "unavailable"
    assert "bubblewrap" in verdict.detail
    assert verdict.passed == 0


def test_verdict_json_has_the_interface_fields():
    verdict = engine.grade(exercise="se-block", source="def (", backend="none")
    data = verdict.to_json()
    assert set(data) >= {"status", "score", "passed", "total", "tests", "error_kind",
                         "stderr_excerpt", "wall_s", "backend"}  # fmt: skip
    assert set(data["tests"][0]) == {"name", "category", "passed", "message"}
    json.dumps(data)


# ------------------------------------------------------------------ framing


def _measured(slug="se-block", seed=4):
    ex = _exercise(slug)
    plan = ex.build(seed=seed, sample=False)
    results = probes_module().measure(plan.probes, plan.arrays, ex.reference_module())
    return ex, plan, results


def test_a_frame_round_trips_float64_arrays_bit_for_bit():
    _, _, results = _measured()
    nonce = "f" * 32
    data = b"noise\n" + harness_module().frame(nonce, {"probes": results}) + b"more noise"
    back = parse_frame(data, nonce)
    assert back is not None
    np.testing.assert_array_equal(back["probes"]["m0"]["y"], results["m0"]["y"])
    assert back["probes"]["m0"]["param_shapes"] == results["m0"]["param_shapes"]


def test_a_frame_with_another_nonce_or_a_second_frame_is_rejected():
    _, _, results = _measured()
    frame = harness_module().frame("a" * 32, {"probes": results})
    assert parse_frame(frame, "b" * 32) is None
    assert parse_frame(frame + frame, "a" * 32) is None
    assert parse_frame(frame[:-40], "a" * 32) is None
    assert parse_frame(b"\n" + b"a" * 32 + b":!!notbase64!!:" + b"a" * 32, "a" * 32) is None


def test_malformed_arrays_in_a_frame_are_rejected_one_by_one():
    import base64

    nonce = "c" * 32

    def framed(payload):
        body = base64.b64encode(json.dumps(payload).encode()).decode()
        return f"{nonce}:{body}:{nonce}".encode()

    good = {"__nd__": [2], "dtype": "<f8", "b64": base64.b64encode(b"\0" * 16).decode()}
    assert parse_frame(framed({"probes": {"p": {"y": good}}}), nonce) is not None
    for bad in (
        dict(good, __nd__=[3]),  # size does not match the shape
        dict(good, dtype="|O"),  # an object array
        dict(good, __nd__=[-1]),
        dict(good, __nd__=[1 << 30]),  # too large
        dict(good, __nd__=[1 << 40, 1 << 40]),  # absurd: its product overflows int64
        dict(good, __nd__=[2.5]),
        dict(good, b64="!!"),
    ):
        back = parse_frame(framed({"probes": {"p": {"y": bad, "dx": good}}}), nonce)
        # The bad array fails the checks that read it; the good one next to it survives.
        assert back is not None and isinstance(back["probes"]["p"]["y"], Malformed), bad
        assert isinstance(back["probes"]["p"]["dx"], np.ndarray)
        with pytest.raises(Missing):
            array(back["probes"]["p"], "y")
    assert parse_frame(framed({"nothing": 1}), nonce) is None


def test_missing_or_malformed_measurements_fail_closed_one_by_one():
    ex, plan, results = _measured()
    reference = engine.reference_measure(exercise=ex, plan=plan)
    broken = json.loads(json.dumps({"m0": {"errors": {}}}))
    broken["m1"] = dict(results["m1"], y="not an array", param_shapes=True)
    broken["m2"] = dict(results["m2"], dx=np.full_like(results["m2"]["dx"], np.nan))
    broken["gc"] = results["gc"]
    outcomes = {o.name: o for o in outcomes_compute(plan=plan, candidate=broken,
                                                           reference=reference)}  # fmt: skip
    by_probe = {c.name: c.probe for c in plan.checks}
    for name, outcome in outcomes.items():
        probe = by_probe[name]
        if probe in ("m0", "m3"):
            assert not outcome.passed and "missing" in outcome.message, name
    m1 = {n: o for n, o in outcomes.items() if by_probe[n] == "m1"}
    assert not m1["output shape, 32 channels, default reduction, 4x4 input"].passed
    assert not m1["parameter count, 32 channels, default reduction, 4x4 input"].passed
    assert m1["input gradient, 32 channels, default reduction, 4x4 input"].passed
    m2 = {n: o for n, o in outcomes.items() if by_probe[n] == "m2"}
    assert not m2["input gradient, 24 channels, reduction 8, 3x6 input"].passed
    assert m2["output values, 24 channels, reduction 8, 3x6 input"].passed
    assert outcomes["gradcheck: autograd agrees with finite differences, 8 channels, "
                    "reduction 2, 2x3 input"].passed  # fmt: skip


def test_failure_messages_do_not_reveal_expected_values():
    ex, plan, results = _measured()
    reference = engine.reference_measure(exercise=ex, plan=plan)
    wrong = {pid: dict(r) for pid, r in results.items()}
    wrong["m0"]["y"] = results["m0"]["y"] + 0.5
    outcomes = outcomes_compute(plan=plan, candidate=wrong, reference=reference)
    failed = [o for o in outcomes if not o.passed]
    assert failed
    expected_numbers = {f"{v:.4f}" for v in reference["m0"]["y"].reshape(-1)[:50]}
    for outcome in failed:
        assert not any(number in outcome.message for number in expected_numbers)


def test_code_without_the_asked_class_is_an_interface_error(bwrap_path):
    from grading import engine
    from grading.messages import ERROR_MESSAGES

    verdict = engine.grade(
        exercise="se-block", source="import torch\n\n\nclass Other:\n    pass\n", backend="bwrap"
    )
    assert verdict.status == "error" and verdict.error_kind == "interface"
    assert verdict.passed == 0 and ERROR_MESSAGES[verdict.error_kind]


def test_a_wrong_answer_with_every_name_present_is_not_an_interface_error():
    from grading.verdict import TestOutcome, interface_missing

    missing = "not run: building the module raised: AttributeError: module 'solution' has no attribute 'SEBlock'"
    assert interface_missing([TestOutcome("a", "shape", False, missing)] * 2)
    assert not interface_missing(
        [TestOutcome("a", "shape", False, missing), TestOutcome("b", "shape", True, "")]
    )
    assert not interface_missing([TestOutcome("a", "values", False, "max error 0.3 > 1e-5")])
    assert not interface_missing([])
