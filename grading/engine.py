"""The grading engine: a submission in, a verdict out.

The verdict is decided here, outside the sandbox (docs/architecture.md). For each run a
secret seed makes the probe inputs and weights; the harness measures the candidate's code
inside the sandbox and sends raw numbers back; the same probes run here on the reference
solution, and each check compares the two. The candidate's source is compiled here to
report syntax errors, never executed here.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import numpy as np

import sandbox
from grading.catalog import ExerciseSpec
from grading.compare import Missing, Unusable, parse_frame, probe, raised
from grading.exercises import SOURCE, Exercise, TestPlan, all_exercises
from grading.exercises._device import device_plan, device_reference, has_device_tests
from grading.harness import harness_module, harness_source

MAX_SOURCE_BYTES = 64 * 1024
STDERR_EXCERPT_BYTES = 4 * 1024
COMMAND = ["python", "-I", "-B", "harness.py"]  # -I ignores PYTHON* variables, so -B too


@dataclass(frozen=True)
class TestOutcome:
    name: str
    category: str  # "shape" | "params" | "gradient" | "init" | "value"
    passed: bool
    message: str

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "category": self.category,
            "passed": self.passed,
            "message": self.message,
        }


@dataclass(frozen=True)
class Verdict:
    status: str  # "passed" | "failed" | "error" | "sandbox_error"
    score: float
    passed: int
    total: int
    tests: list[TestOutcome]
    # "" | "syntax" | "runtime" | "timeout" | "memory" | "output_limit" | "sandbox" (the
    # sandbox failed) | "unavailable" (this host has no sandbox backend at all)
    error_kind: str
    stderr_excerpt: str
    wall_s: float
    backend: str
    detail: str = ""  # our own diagnostics for a sandbox_error (never the candidate's fault)

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "score": self.score,
            "passed": self.passed,
            "total": self.total,
            "tests": [t.to_json() for t in self.tests],
            "error_kind": self.error_kind,
            "stderr_excerpt": self.stderr_excerpt,
            "wall_s": round(self.wall_s, 3),
            "backend": self.backend,
            "detail": self.detail,
        }


@functools.cache
def _registry() -> dict[str, Exercise]:
    return {ex.slug: ex for ex in all_exercises()}


@functools.cache
def _spec(slug: str) -> ExerciseSpec:
    ex = _registry()[slug]
    plan = ex.build(seed=0, sample=True)
    hidden = ex.build(seed=0, sample=False)
    return ExerciseSpec(
        slug=ex.slug,
        title=ex.title,
        queue=ex.queue,
        starter_code=ex.starter_code,
        hints=list(ex.hints),
        sample_test_names=[c.name for c in plan.checks],
        limits=ex.limits,
        statement=ex.statement,
        categories=sorted({c.category for c in hidden.checks}),
        device_tests=has_device_tests(hidden),
    )


def exercise_list() -> list[ExerciseSpec]:
    return [_spec(slug) for slug in _registry()]


def exercise_catalog() -> list[ExerciseSpec]:
    """What grading/catalog.py serves to the web pages, computed from the exercises."""
    return exercise_list()


def exercise_get(slug: str) -> ExerciseSpec:
    if slug not in _registry():
        raise KeyError(f"unknown exercise {slug!r}")
    return _spec(slug)


# ------------------------------------------------------------------ grading


def source_validate(*, source: str | bytes) -> str:
    """The submission as text; ValueError with a message a learner understands otherwise."""
    if isinstance(source, bytes):
        raw = source
        if len(raw) > MAX_SOURCE_BYTES:
            raise ValueError(f"the solution is {len(raw):,} bytes; the limit is 64 KiB")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"the solution is not valid UTF-8 (byte {exc.start})") from None
    try:
        size = len(source.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise ValueError(f"the solution is not valid UTF-8 (character {exc.start})") from None
    if size > MAX_SOURCE_BYTES:
        raise ValueError(f"the solution is {size:,} bytes; the limit is 64 KiB")
    return source


def job_build(*, plan: TestPlan, source: str, nonce: str) -> sandbox.Job:
    """The sandbox job: the candidate's file, the harness, the plan and the secret inputs.

    The reference solution is not among them: it stays in the worker.
    """
    buffer = io.BytesIO()
    np.savez(buffer, **plan.arrays)
    plan_json = json.dumps({"nonce": nonce, "probes": plan.probes}).encode()
    return sandbox.Job(
        files={
            "solution.py": source.encode("utf-8"),
            "harness.py": harness_source(),
            "plan.json": plan_json,
            "inputs.npz": buffer.getvalue(),
        },
        command=list(COMMAND),
        env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
    )


_STRUCTURE_CACHE: dict[str, dict] = {}


def reference_measure(*, exercise: Exercise, plan: TestPlan) -> dict:
    """The reference's measurements for this plan, with the very probe code of the harness.

    Structure-only probes (no weights, no inputs) do not depend on the seed; their results
    are kept, which spares building five full-size ResNets for every submission.
    """
    measure = harness_module().measure
    reference = exercise.reference_module()
    results = {}
    fresh = []
    for spec in plan.probes:
        if spec.get("kind") == "module" and spec.get("weights") is None:
            key = exercise.slug + json.dumps({k: v for k, v in spec.items() if k != "id"})
            if key not in _STRUCTURE_CACHE:
                _STRUCTURE_CACHE[key] = measure([spec], {}, reference)[spec["id"]]
            results[spec["id"]] = _STRUCTURE_CACHE[key]
        else:
            fresh.append(spec)
    results.update(measure(fresh, plan.arrays, reference))
    expected = {spec["id"] for spec in plan.probes if spec.get("expect_error")}
    broken = {
        pid: r["errors"] for pid, r in results.items() if r.get("errors") and pid not in expected
    }
    if broken:
        raise RuntimeError(f"the reference for {exercise.slug} failed its own probes: {broken}")
    return results


def outcomes_compute(
    *, plan: TestPlan, candidate: dict, reference: dict, source: str = ""
) -> list[TestOutcome]:
    """Each check on its own; anything missing or malformed fails that check only."""
    outcomes = []
    reference = {**reference, SOURCE: {}}
    for check in plan.checks:
        try:
            got = {"source": source} if check.probe == SOURCE else probe(candidate, check.probe)
        except Missing:
            outcomes.append(TestOutcome(check.name, check.category, False, _MISSING))
            continue
        try:
            passed, message = check.decide(got, reference[check.probe])
            passed = passed is True
        except Unusable as exc:
            passed, message = False, _not_run(raised(got)) or str(exc)
        except Missing:
            passed, message = False, _not_run(raised(got)) or _MISSING
        except Exception as exc:  # a malformed value of an unexpected type: fail closed
            passed, message = False, _not_run(raised(got)) or f"{_MISSING} ({type(exc).__name__})"
        if not passed and raised(got) and raised(got) not in message:
            message = f"{message} ({raised(got)})"
        outcomes.append(TestOutcome(check.name, check.category, passed, message[:1000]))
    return outcomes


_MISSING = "measurement missing or malformed: this test got no usable result from your code"


def _not_run(cause: str) -> str:
    """The message of a test that could not run because of an earlier step's error.

    Every test that depends on that step gets exactly this text, so the verdict page can
    show the cause once, with the tests it stopped (grading.selectors.verdict_rows).
    """
    return f"{NOT_RUN_PREFIX}{cause}" if cause else ""


NOT_RUN_PREFIX = "not run: "


# What the harness reports when the solution lacks a name the exercise asks for.
_NO_NAME = re.compile(r"module 'solution' has no attribute '\w+'|solution has no \w+")


def interface_missing(tests: list[TestOutcome]) -> bool:
    """True when nothing passed because the code lacks the class or function asked for.

    Every test failed, and each one that says why names a missing name: the verdict is
    then an "interface" error (its own message), not a score of zero.
    """
    failed = [t for t in tests if not t.passed]
    if not tests or len(failed) != len(tests):
        return False
    explained = [t for t in failed if t.message != _MISSING]
    return bool(explained) and all(_NO_NAME.search(t.message) for t in explained)


def _all_failed(plan: TestPlan, message: str) -> list[TestOutcome]:
    return [TestOutcome(c.name, c.category, False, message) for c in plan.checks]


def _tail(data: bytes) -> str:
    text = data[-STDERR_EXCERPT_BYTES:].decode("utf-8", "replace")
    return text[-STDERR_EXCERPT_BYTES:]


def _verdict(
    tests: list[TestOutcome],
    *,
    status: str | None = None,
    error_kind: str = "",
    stderr: str = "",
    started: float,
    backend: str,
    detail: str = "",
) -> Verdict:
    passed = sum(t.passed for t in tests)
    total = len(tests)
    if status is None:
        status = "passed" if total and passed == total else "failed"
    return Verdict(
        status=status,
        score=passed / total if total else 0.0,
        passed=passed,
        total=total,
        tests=tests,
        error_kind=error_kind,
        stderr_excerpt=stderr,
        wall_s=time.monotonic() - started,
        backend=backend,
        detail=detail,
    )


def limit_message(status: str, limits: sandbox.Limits) -> tuple[str, str]:
    """The error kind and the learner's message for a run stopped by a limit, naming it."""
    if status == sandbox.Status.TIMEOUT:
        return (
            "timeout",
            f"not run to the end: your code ran past the {limits.wall_s:g} s time limit",
        )
    if status == sandbox.Status.MEMORY_LIMIT:
        return (
            "memory",
            f"not run to the end: your code went past the {limits.memory_mb:,} MB memory limit",
        )
    output = limits.output_bytes / (1024 * 1024)
    return (
        "output_limit",
        f"not run to the end: your code printed more than the {output:g} MiB output limit",
    )


_LIMIT_STATUSES = (sandbox.Status.TIMEOUT, sandbox.Status.MEMORY_LIMIT, sandbox.Status.OUTPUT_LIMIT)


# The reference's measurements are made on this thread while the sandbox runs.
_REFERENCE_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reference")


def grade(
    *,
    exercise: str,
    source: str | bytes,
    sample: bool = False,
    backend: str = "auto",
    image: str | None = None,
    limits: sandbox.Limits | None = None,
    seed: int | None = None,
    gpus: str = "none",
) -> Verdict:
    """Grade one submission. KeyError for an unknown exercise, ValueError for a bad source.

    With `gpus` (a sandbox GPU spec such as "all"), hidden tests also run the device tests
    (grading/exercises/_device.py) in a second job that gets the GPU; the CPU tests' job
    never has one.
    """
    started = time.monotonic()
    if exercise not in _registry():
        raise KeyError(f"unknown exercise {exercise!r}")
    ex = _registry()[exercise]
    text = source_validate(source=source)
    if seed is None:
        seed = secrets.randbits(62)
    plan = ex.build(seed=seed, sample=sample)

    try:
        compile(text, "solution.py", "exec")
    except SyntaxError as exc:
        where = f"line {exc.lineno}" if exc.lineno else "the file"
        excerpt = f'File "solution.py", {where}\n'
        if exc.text:
            excerpt += "    " + exc.text.rstrip("\n") + "\n"
        excerpt += f"{type(exc).__name__}: {exc.msg}"
        message = f"not run: {type(exc).__name__} at {where}: {exc.msg}"
        return _verdict(_all_failed(plan, message), status="error", error_kind="syntax",
                        stderr=excerpt, started=started, backend="")  # fmt: skip
    except ValueError as exc:  # e.g. a NUL byte in the source
        return _verdict(_all_failed(plan, f"not run: {exc}"), status="error",
                        error_kind="syntax", stderr=str(exc), started=started, backend="")  # fmt: skip
    except (RecursionError, MemoryError) as exc:
        # Nesting too deep for the compiler (e.g. "x" + ".a" * 20000): the candidate's
        # code, not our fault, so never retried.
        what = "recursion" if isinstance(exc, RecursionError) else "memory"
        message = (
            f"not run: Python ran out of {what} while compiling your code (nested too deeply?)"
        )
        return _verdict(_all_failed(plan, message), status="error", error_kind="syntax",
                        stderr=message.removeprefix("not run: "), started=started, backend="")  # fmt: skip

    nonce = secrets.token_hex(16)
    job = job_build(plan=plan, source=text, nonce=nonce)
    # The reference is measured here while the sandbox runs the candidate's code: the
    # two overlap instead of adding up.
    limits = dataclasses.replace(limits or ex.limits, gpus="none")
    pending = _REFERENCE_POOL.submit(reference_measure, exercise=ex, plan=plan)
    try:
        try:
            result = sandbox.run(job, limits, backend=backend, image=image)
        except sandbox.SandboxUnavailable as exc:
            return _verdict(_all_failed(plan, "not run: no sandbox is available"),
                            status="sandbox_error", error_kind="unavailable", started=started,
                            backend="", detail=str(exc))  # fmt: skip

        stderr = _tail(result.stderr)
        if result.status == sandbox.Status.SANDBOX_ERROR:
            return _verdict(_all_failed(plan, "not run: the sandbox failed (not your code)"),
                            status="sandbox_error", error_kind="sandbox", started=started,
                            backend=result.backend, detail=result.detail)  # fmt: skip
        if result.status in _LIMIT_STATUSES:
            kind, message = limit_message(result.status, limits or ex.limits)
            return _verdict(_all_failed(plan, message), status="error", error_kind=kind,
                            stderr=stderr, started=started, backend=result.backend)  # fmt: skip

        reference = pending.result()
        candidate = parse_frame(result.stdout, nonce)
        if candidate is None:
            if result.status == sandbox.Status.RUNTIME_ERROR:
                message = "not run: your code raised an error before the tests (see the traceback)"
            else:
                message = (
                    "not run: the program ended before the tests finished (exit() in your code?)"
                )
            return _verdict(_all_failed(plan, message), status="error", error_kind="runtime",
                            stderr=stderr, started=started, backend=result.backend)  # fmt: skip
        if candidate.get("cuda_oom") is True:
            # The GPU's memory is bounded in the job's process (the harness); running out
            # of it ends the run as the host memory limit would.
            message = "not run to the end: your code went past its share of the GPU's memory"
            return _verdict(_all_failed(plan, message), status="error", error_kind="memory",
                            stderr=stderr, started=started, backend=result.backend)  # fmt: skip
        tests = outcomes_compute(
            plan=plan, candidate=candidate["probes"], reference=reference, source=text
        )
        if interface_missing(tests):
            return _verdict(tests, status="error", error_kind="interface",
                            stderr=stderr, started=started, backend=result.backend)  # fmt: skip
        if gpus != "none" and not sample and has_device_tests(plan):
            try:
                tests += device_outcomes(plan=plan, reference=reference, source=text,
                                         limits=dataclasses.replace(limits, gpus=gpus),
                                         backend=backend, image=image)  # fmt: skip
            except DeviceJobFailed as exc:
                return _verdict(_all_failed(plan, "not run: the sandbox failed (not your code)"),
                                status="sandbox_error", error_kind="sandbox", started=started,
                                backend=result.backend, detail=str(exc))  # fmt: skip
        return _verdict(tests, started=started, backend=result.backend)
    finally:
        # torch's default dtype is process-wide and the reference's probes set it: no
        # torch work of the caller (the next grading's plan) may overlap that thread.
        wait([pending])


class DeviceJobFailed(RuntimeError):
    """The device tests' job failed on our side (no GPU in the box, a sandbox error)."""


def device_outcomes(
    *, plan: TestPlan, reference: dict, source: str, limits: sandbox.Limits,
    backend: str = "auto", image: str | None = None,
) -> list[TestOutcome]:  # fmt: skip
    """The device tests: their own job with the GPU, compared with the CPU reference."""
    dplan = device_plan(plan)
    nonce = secrets.token_hex(16)
    job = job_build(plan=dplan, source=source, nonce=nonce)
    try:
        result = sandbox.run(job, limits, backend=backend, image=image)
    except sandbox.SandboxUnavailable as exc:
        raise DeviceJobFailed(str(exc)) from None
    if result.status == sandbox.Status.SANDBOX_ERROR:
        raise DeviceJobFailed(f"device tests: {result.detail}")
    if result.status in _LIMIT_STATUSES:
        return _all_failed(dplan, limit_message(result.status, limits)[1])
    candidate = parse_frame(result.stdout, nonce)
    if candidate is None:
        return _all_failed(dplan, "not run: your code raised an error before the device tests")
    if candidate.get("device_unavailable") is True:
        raise DeviceJobFailed("device tests: the sandbox job has no usable CUDA device")
    if candidate.get("cuda_oom") is True:
        return _all_failed(dplan, "not run to the end: your code went past its share of the "
                                  "GPU's memory")  # fmt: skip
    return outcomes_compute(plan=dplan, candidate=candidate["probes"],
                            reference=device_reference(dplan, reference), source=source)  # fmt: skip
