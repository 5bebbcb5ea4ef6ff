"""The grading engine: a submission in, a verdict out.

The verdict is decided here, outside the sandbox (docs/architecture.md). For each run a
secret seed makes the probe inputs and weights; the harness measures the candidate's code
inside the sandbox and sends raw numbers back; the same probes run here on the reference
solution, and each check compares the two. The candidate's source is compiled here to
report syntax errors, never executed here. Turning the measurements into checks and a
verdict is `grading.verdict`'s part.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import os
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

import sandbox
from grading.catalog import ExerciseSpec
from grading.compare import parse_frame
from grading.exercises import Exercise, TestPlan, all_exercises
from grading.exercises._device import device_plan, device_reference, has_device_tests
from grading.harness import harness_files, probes_module
from grading.verdict import (
    TestOutcome,
    Verdict,
    all_failed,
    interface_missing,
    limit_message,
    outcomes_compute,
    verdict_from,
)

MAX_SOURCE_BYTES = 64 * 1024
STDERR_EXCERPT_BYTES = 4 * 1024
COMMAND = ["python", "-I", "-B", "harness.py"]  # -I ignores PYTHON* variables, so -B too


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
            **harness_files(),
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
    measure = probes_module().measure
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


def _tail(data: bytes) -> str:
    text = data[-STDERR_EXCERPT_BYTES:].decode("utf-8", "replace")
    return text[-STDERR_EXCERPT_BYTES:]


_LIMIT_STATUSES = (sandbox.Status.TIMEOUT, sandbox.Status.MEMORY_LIMIT, sandbox.Status.OUTPUT_LIMIT)


# How much lower the reference thread's priority is (nice): enough that the box wins the
# cores when both want them.
REFERENCE_NICE = 5


# The reference's measurements are made on this thread while the sandbox runs.
def _one_torch_thread() -> None:
    """The reference is measured while the sandbox runs, both on the same few cores: with
    torch's default of one thread per core the two fight over them, and the slower side is
    the verdict's wait (resnet-builder, 2 cores: warm 0.5-1.5 s with the default, 0.5-0.7 s
    with one thread). Imported here, not at the top: web processes import this module and
    need no torch."""
    import torch

    torch.set_num_threads(1)
    # And it yields to the sandbox: the reference takes half the box's time or less, so
    # at a lower priority it still ends first, while the box (and the engine serving it)
    # get the cores when both want them. Lowering one's own priority needs no privilege.
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), REFERENCE_NICE)
    except OSError:
        pass  # a platform without per-thread priorities: the same figures, a little slower


_REFERENCE_POOL = ThreadPoolExecutor(
    max_workers=1, thread_name_prefix="reference", initializer=_one_torch_thread
)


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
        return verdict_from(all_failed(plan, message), status="error", error_kind="syntax",
                        stderr=excerpt, started=started, backend="")  # fmt: skip
    except ValueError as exc:  # e.g. a NUL byte in the source
        return verdict_from(all_failed(plan, f"not run: {exc}"), status="error",
                        error_kind="syntax", stderr=str(exc), started=started, backend="")  # fmt: skip
    except (RecursionError, MemoryError) as exc:
        # Nesting too deep for the compiler (e.g. "x" + ".a" * 20000): the candidate's
        # code, not our fault, so never retried.
        what = "recursion" if isinstance(exc, RecursionError) else "memory"
        message = (
            f"not run: Python ran out of {what} while compiling your code (nested too deeply?)"
        )
        return verdict_from(all_failed(plan, message), status="error", error_kind="syntax",
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
            return verdict_from(all_failed(plan, "not run: no sandbox is available"),
                            status="sandbox_error", error_kind="unavailable", started=started,
                            backend="", detail=str(exc))  # fmt: skip

        stderr = _tail(result.stderr)
        if result.status == sandbox.Status.SANDBOX_ERROR:
            return verdict_from(all_failed(plan, "not run: the sandbox failed (not your code)"),
                            status="sandbox_error", error_kind="sandbox", started=started,
                            backend=result.backend, detail=result.detail)  # fmt: skip
        if result.status in _LIMIT_STATUSES:
            kind, message = limit_message(result.status, limits or ex.limits)
            return verdict_from(all_failed(plan, message), status="error", error_kind=kind,
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
            return verdict_from(all_failed(plan, message), status="error", error_kind="runtime",
                            stderr=stderr, started=started, backend=result.backend)  # fmt: skip
        if candidate.get("cuda_oom") is True:
            # The GPU's memory is bounded in the job's process (the harness); running out
            # of it ends the run as the host memory limit would.
            message = "not run to the end: your code went past its share of the GPU's memory"
            return verdict_from(all_failed(plan, message), status="error", error_kind="memory",
                            stderr=stderr, started=started, backend=result.backend)  # fmt: skip
        tests = outcomes_compute(
            plan=plan, candidate=candidate["probes"], reference=reference, source=text
        )
        if interface_missing(tests):
            return verdict_from(tests, status="error", error_kind="interface",
                            stderr=stderr, started=started, backend=result.backend)  # fmt: skip
        if gpus != "none" and not sample and has_device_tests(plan):
            try:
                tests += device_outcomes(plan=plan, reference=reference, source=text,
                                         limits=dataclasses.replace(limits, gpus=gpus),
                                         backend=backend, image=image)  # fmt: skip
            except DeviceJobFailed as exc:
                return verdict_from(all_failed(plan, "not run: the sandbox failed (not your code)"),
                                status="sandbox_error", error_kind="sandbox", started=started,
                                backend=result.backend, detail=str(exc))  # fmt: skip
        return verdict_from(tests, started=started, backend=result.backend)
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
        return all_failed(dplan, limit_message(result.status, limits)[1])
    candidate = parse_frame(result.stdout, nonce)
    if candidate is None:
        return all_failed(dplan, "not run: your code raised an error before the device tests")
    if candidate.get("device_unavailable") is True:
        raise DeviceJobFailed("device tests: the sandbox job has no usable CUDA device")
    if candidate.get("cuda_oom") is True:
        return all_failed(dplan, "not run to the end: your code went past its share of the "
                                  "GPU's memory")  # fmt: skip
    return outcomes_compute(plan=dplan, candidate=candidate["probes"],
                            reference=device_reference(dplan, reference), source=source)  # fmt: skip
