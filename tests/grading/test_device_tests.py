"""Device tests without a GPU: what a CPU machine can show of them.

- every PyTorch exercise has device tests, with two wrong variants each
  (tests/grading/device_variants/), and the NumPy-only exercises have none;
- the device plan repeats hidden probes with the same secret arrays and compares with the
  CPU reference; the reference passes it in a dry run on the CPU (float32 included);
- each wrong variant passes every CPU test through the real sandbox;
- on a second device the variants go wrong and the reference does not: PyTorch's `meta`
  device stands in for the GPU (it has no values, so only the errors are compared), for
  every mistake except the hard-coded `.cuda()`, which needs CUDA itself;
- a submission asks for the device tests; where GPU workers exist it goes to grade.gpu,
  and the page says when there are none;
- the engine runs the device tests in a second job with the GPU, and a job without a
  usable GPU is a sandbox_error, never a CPU run.

That the variants fail the device tests on CUDA is what benchmarks/gpu_check.py shows on
a machine with a GPU.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import pytest

from grading import engine
from grading.exercises import all_exercises
from grading.exercises._device import CATEGORY, device_plan, device_reference
from grading.harness import probes_module
from grading.verdict import outcomes_compute

VARIANTS = Path(__file__).resolve().parent / "device_variants"
PYTORCH = {"basic-block", "bottleneck-block", "preact-block", "se-block", "resnet-builder",
           "he-init"}  # fmt: skip
FILES = sorted(VARIANTS.glob("*/wrong_*.py"))


def _slug(path: Path) -> str:
    return path.parent.name.replace("_", "-")


def _kind(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# device-bug: "), path
    return first.removeprefix("# device-bug: ")


def _exercise(slug: str):
    return next(ex for ex in all_exercises() if ex.slug == slug)


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"variant_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_pytorch_exercise_has_device_tests_and_two_wrong_variants() -> None:
    for spec in engine.exercise_list():
        assert spec.device_tests == (spec.slug in PYTORCH), spec.slug
        assert ("device" in spec.categories) is False  # CPU grading never shows them
    counts = {slug: sum(_slug(p) == slug for p in FILES) for slug in PYTORCH}
    assert all(n >= 2 for n in counts.values()), counts
    assert {_kind(p) for p in FILES} == {"no-device", "unregistered-buffer", "guarded-cuda",
                                         "numpy"}  # fmt: skip


def test_the_device_plan_repeats_hidden_probes_with_the_same_secret_arrays() -> None:
    ex = _exercise("basic-block")
    plan = ex.build(seed=11, sample=False)
    dplan = device_plan(plan)
    assert dplan.arrays is plan.arrays  # nothing new is drawn: the same weights and inputs
    by_id = {p["id"]: p for p in plan.probes}
    runs = {(p["device"], p["dtype"]) for p in dplan.probes}
    assert runs == {("cuda", "float64"), ("cuda", "float32"), ("cpu", "float64")}
    for probe in dplan.probes:
        assert probe["arrays"] in by_id and probe["source"] in by_id
    assert {c.category for c in dplan.checks} == {CATEGORY}
    assert any("on the CPU with a GPU present" in c.name for c in dplan.checks)
    assert ex.build(seed=11, sample=True).probes  # sample tests never carry device tests


@pytest.mark.parametrize("slug", sorted(PYTORCH))
def test_the_reference_passes_its_device_tests_in_a_dry_run_on_the_cpu(slug: str) -> None:
    ex = _exercise(slug)
    plan = ex.build(seed=3, sample=False)
    reference = engine.reference_measure(exercise=ex, plan=plan)
    dplan = device_plan(plan, device="cpu")
    measured = probes_module().measure(dplan.probes, dplan.arrays, ex.reference_module())
    outcomes = outcomes_compute(
        plan=dplan, candidate=measured, reference=device_reference(dplan, reference)
    )
    assert outcomes and all(o.passed for o in outcomes), [
        (o.name, o.message) for o in outcomes if not o.passed
    ]


def test_a_float32_run_that_is_really_wrong_fails_the_float32_tolerance() -> None:
    ex = _exercise("se-block")
    plan = ex.build(seed=3, sample=False)
    reference = engine.reference_measure(exercise=ex, plan=plan)
    dplan = device_plan(plan, device="cpu")
    measured = probes_module().measure(dplan.probes, dplan.arrays, ex.reference_module())
    pid = next(p["id"] for p in dplan.probes if p["dtype"] == "float32")
    measured[pid]["y"] = measured[pid]["y"] * (1 + 1e-3)  # a tenth of a percent off
    outcomes = outcomes_compute(
        plan=dplan, candidate=measured, reference=device_reference(dplan, reference)
    )
    failed = [o.name for o in outcomes if not o.passed]
    assert failed and all("float32" in name and "output values" in name for name in failed)


@pytest.mark.docker
@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_device_variant_passes_every_cpu_test(path: Path, sandbox_image: str) -> None:
    verdict = engine.grade(exercise=_slug(path), source=path.read_text(), backend="docker",
                           image=sandbox_image)  # fmt: skip
    assert verdict.status == "passed", [(t.name, t.message) for t in verdict.tests if not t.passed]


@pytest.mark.parametrize(
    "path",
    [p for p in FILES if _kind(p) != "guarded-cuda"],
    ids=lambda p: f"{p.parent.name}/{p.stem}",
)
def test_on_a_second_device_the_variant_goes_wrong_and_the_reference_does_not(path: Path) -> None:
    ex = _exercise(_slug(path))
    dplan = device_plan(ex.build(seed=5, sample=False), device="meta")
    gpu_probes = [p for p in dplan.probes if p["device"] == "meta"]
    measure = probes_module().measure
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # loading values into meta tensors is a no-op
        reference = measure(gpu_probes, dplan.arrays, ex.reference_module())
        variant = measure(gpu_probes, dplan.arrays, _load(path))

    def errors(result: dict) -> list[str]:
        found = list((result.get("errors") or {}).values())
        found += [c["error"] for c in result.get("cases", []) if c.get("error")]
        return found

    # The reference's only errors are the meta device's lack of values (and the errors a
    # probe expects, such as an unknown mode); a device mismatch names the device.
    assert not [e for r in reference.values() for e in errors(r) if "device" in e]
    assert [e for r in variant.values() for e in errors(r) if "device" in e], variant


def test_a_guarded_cuda_variant_does_nothing_wrong_without_cuda() -> None:
    # Why the meta stand-in cannot show it: without CUDA the guard keeps it on the CPU.
    for path in (p for p in FILES if _kind(p) == "guarded-cuda"):
        assert "torch.cuda.is_available()" in path.read_text()


# ------------------------------------------------------------------ routing and the page


@pytest.mark.django_db
def test_a_submission_asking_for_the_gpu_goes_to_grade_gpu_only_where_gpu_workers_run(
    settings, broker, learner, django_capture_on_commit_callbacks
) -> None:
    from grading import services

    code = (VARIANTS / "se_block" / "wrong_no_device.py").read_text()
    settings.GRADING_MAX_ACTIVE = 10  # four runs queued at once, none graded here

    def create(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return services.submission_create(user=learner, code=code, **kwargs)

    settings.GRADING_GPU = False
    cpu = create(exercise="se-block", on_gpu=True)
    [on_cpu] = broker.take("grade.cpu")
    assert cpu.on_gpu is False and not broker.take("grade.gpu")
    settings.GRADING_GPU = True
    gpu = create(exercise="se-block", on_gpu=True)
    [on_gpu] = broker.take("grade.gpu")
    assert gpu.on_gpu is True and on_gpu.args == [gpu.pk]
    # The device tests' job comes after the CPU tests' job: the task gets time for both.
    assert on_gpu.soft_time_limit > on_cpu.soft_time_limit
    # Sample runs, and exercises without device tests, stay on the CPU.
    sample = create(exercise="se-block", kind="sample", on_gpu=True)
    numpy_only = create(exercise="param-count", on_gpu=True)
    assert (sample.on_gpu, numpy_only.on_gpu) == (False, False)
    assert len(broker.take("grade.cpu")) == 2 and not broker.take("grade.gpu")


@pytest.mark.django_db
def test_the_page_offers_the_gpu_only_where_gpu_workers_run(client, settings, learner) -> None:
    client.force_login(learner)
    settings.GRADING_GPU = False
    page = client.get("/exercises/se-block/").content.decode()
    assert "no GPU worker" in page and 'name="on_gpu"' not in page
    assert "not a PyTorch module" in client.get("/exercises/param-count/").content.decode()
    settings.GRADING_GPU = True
    page = client.get("/exercises/se-block/").content.decode()
    assert 'name="on_gpu"' in page and "no GPU worker" not in page


@pytest.mark.django_db
def test_the_form_passes_the_choice_on(
    client, settings, learner, broker, django_capture_on_commit_callbacks
) -> None:
    from grading.models import Submission

    settings.GRADING_GPU = True
    client.force_login(learner)
    code = (VARIANTS / "se_block" / "wrong_no_device.py").read_text()
    client.post("/exercises/se-block/submit", {"code": code, "kind": "submit", "on_gpu": "1"})
    client.post("/exercises/se-block/submit", {"code": code, "kind": "submit"})
    assert list(Submission.objects.order_by("id").values_list("on_gpu", flat=True)) == [True, False]


# ------------------------------------------------------------------ the engine's second job


@pytest.mark.docker
def test_device_tests_without_a_usable_gpu_are_a_sandbox_error(
    sandbox_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The GPU job runs (stand-in nodes, so the sandbox gives "a GPU"), but CUDA is not
    usable inside: the harness says so before any of the candidate's code runs."""
    import os
    import stat

    if os.geteuid() != 0:
        pytest.skip("mknod of stand-in device nodes needs root")
    for name, (major, minor) in {"nvidia0": (195, 0), "nvidiactl": (195, 255),
                                 "nvidia-uvm": (509, 0)}.items():  # fmt: skip
        os.mknod(tmp_path / name, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
    (tmp_path / "libcuda.so.1").write_text("stand-in")
    monkeypatch.setenv("SANDBOX_GPU_DEV_ROOT", str(tmp_path))
    monkeypatch.setenv("SANDBOX_GPU_LIBRARY_DIRS", str(tmp_path))
    monkeypatch.setenv("SANDBOX_GPU_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.setenv("SANDBOX_GPU_PATH", "devices")
    source = (VARIANTS / "se_block" / "wrong_no_device.py").read_text()
    verdict = engine.grade(exercise="se-block", source=source, backend="docker",
                           image=sandbox_image, gpus="0")  # fmt: skip
    assert verdict.status == "sandbox_error"
    assert "no usable CUDA device" in verdict.detail
    # Without a GPU asked for, the same code passes on the CPU.
    assert engine.grade(exercise="se-block", source=source, backend="docker",
                        image=sandbox_image).status == "passed"  # fmt: skip


@pytest.mark.docker
@pytest.mark.django_db
def test_a_gpu_submission_on_a_worker_without_a_gpu_is_retried_as_our_fault(
    settings, learner, sandbox_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grading import flow, services
    from grading.models import Submission

    monkeypatch.setenv("SANDBOX_GPU_PATH", "devices")
    monkeypatch.setenv("SANDBOX_GPU_DEV_ROOT", "/nonexistent")  # this host has no GPU
    settings.GRADING_GPU, settings.SANDBOX_GPUS = True, "none"
    settings.SANDBOX_BACKEND, settings.SANDBOX_IMAGE = "docker", sandbox_image
    code = (VARIANTS / "se_block" / "wrong_no_device.py").read_text()
    submission = services.submission_create(user=learner, exercise="se-block", code=code,
                                            on_gpu=True, enqueue=False)  # fmt: skip
    flow.submission_grade(submission_id=submission.pk, requeue=False)
    submission.refresh_from_db()
    assert (submission.status, submission.attempts) == (Submission.Status.QUEUED, 1)
    assert "no NVIDIA device nodes" in submission.detail
    assert not submission.tests.exists()  # nothing is blamed on the code
