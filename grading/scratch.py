"""The scratch console: a few lines of the learner's own that use their code, run in the
sandbox, with stdout and stderr shown back, the way LeetCode runs a custom test case.

Nothing is graded and nothing hidden goes in: the job holds the learner's code
(`solution.py`), their script (`scratch.py`) and a small runner, no probe, no secret
input and no reference. What comes out is shown as text, bounded, and never read as
anything else. The job has the same shape (command, environment, limits) as a grading
job of the same exercise, so a warm sandbox from the pool serves it.

One scratch run at a time per learner (a second one is refused until the first ends), and
at most RATE_LIMITS["scratch"] per window.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from accounts.limits import rate_hit
from config.celery_app import app as celery_app
from grading import catalog
from grading.dispatch import grading_limits
from grading.flow import clean_text
from grading.models import ScratchRun
from grading.services import SubmissionRefused, source_check

log = logging.getLogger(__name__)

MAX_SCRIPT_BYTES = 8 * 1024
# What the page keeps of each stream; the sandbox's own cap (SANDBOX_OUTPUT_KB) is higher.
SHOWN_BYTES = 16 * 1024
# The same argv and environment as a grading job (grading.engine.COMMAND, job env), so
# that pooled sandboxes of the exercise's shape serve scratch runs too; a test checks it.
COMMAND = ["python", "-I", "-B", "harness.py"]
JOB_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
# The job's entry file: puts the job folder on sys.path (-I leaves it off), then runs the
# learner's script as __main__, so `from solution import BasicBlock` works as it would in
# a file next to theirs.
RUNNER = b"""import os, runpy, sys
sys.path.insert(0, os.getcwd())
sys.argv = ["scratch.py"]
runpy.run_path("scratch.py", run_name="__main__")
"""
# How much later than its wall limit a run may still be "running" before the page says
# it was lost (a worker that died mid-run); the learner simply runs it again.
LOST_MARGIN_S = 60
KEEP_PER_LEARNER = 20

STARTER_SCRIPT = """import torch
from solution import *  # your code above, as solution.py

# Build your module, run it on a small input, print what you want to see.
# Nothing here is graded; hidden tests never run in the console.
print(torch.__version__)
"""


class ScratchRefused(SubmissionRefused):
    """The script is not run; the message says why."""


def _script_check(script: str | bytes) -> str:
    raw = script if isinstance(script, bytes) else script.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_SCRIPT_BYTES:
        raise ScratchRefused(
            f"The script is {len(raw):,} bytes; the console takes at most "
            f"{MAX_SCRIPT_BYTES:,} bytes (8 KiB). Nothing was run."
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScratchRefused(
            f"The script is not valid UTF-8 (bad byte at offset {exc.start}). Nothing was run."
        ) from None
    if not text.strip():
        raise ScratchRefused("The script is empty: write a few lines that use your code.")
    if "\x00" in text:
        raise ScratchRefused("The script contains a NUL character. Nothing was run.")
    return text


def scratch_create(
    *, user: AbstractBaseUser, exercise: str, code: str | bytes, script: str | bytes
) -> ScratchRun:
    """Validate, store and queue one scratch run; ScratchRefused (or RateLimited) if not."""
    try:
        catalog.exercise_get(exercise)
    except KeyError:
        raise ScratchRefused(f"There is no exercise named {exercise!r}.") from None
    try:
        code_text = source_check(code=code)
    except ScratchRefused:
        raise
    except SubmissionRefused as exc:
        raise ScratchRefused(str(exc).replace("Nothing was queued.", "Nothing was run.")) from None
    if "\x00" in code_text:
        raise ScratchRefused("The code contains a NUL character. Nothing was run.")
    script_text = _script_check(script)
    with transaction.atomic():
        busy = (
            ScratchRun.objects.select_for_update()
            .filter(user=user, status__in=ScratchRun.ACTIVE)
            .filter(created_at__gte=timezone.now() - timedelta(minutes=10))
            .exists()
        )
        if busy:
            raise ScratchRefused("Your last script is still running: its output comes first.")
        rate_hit(scope="scratch", key=str(user.pk))
        run = ScratchRun.objects.create(
            user=user, exercise=exercise, code=code_text, script=script_text
        )
        transaction.on_commit(lambda: _enqueue(run.pk))
    _prune(user=user)
    return run


def _enqueue(run_id: int) -> None:
    try:
        celery_app.send_task("grading.run_scratch", args=[run_id], queue="grade.cpu")
    except Exception as exc:  # the broker is down: say so at once, nothing waits forever
        log.warning("scratch run %s not queued: %s", run_id, exc)
        ScratchRun.objects.filter(pk=run_id, status=ScratchRun.Status.QUEUED).update(
            status=ScratchRun.Status.FAILED,
            outcome="not_queued",
            stderr="The grading queue cannot be reached right now; run the script again.",
            finished_at=timezone.now(),
        )


def _prune(*, user: AbstractBaseUser) -> None:
    old = ScratchRun.objects.filter(user=user).order_by("-created_at")[KEEP_PER_LEARNER:]
    ScratchRun.objects.filter(pk__in=list(old.values_list("pk", flat=True))).delete()


def scratch_is_lost(run: ScratchRun) -> bool:
    """A run still marked active well past any limit: its worker died with it."""
    if run.status not in ScratchRun.ACTIVE:
        return False
    try:
        wall = grading_limits(spec=catalog.exercise_get(run.exercise)).wall_s
    except KeyError:
        wall = settings.SANDBOX_WALL_S
    since = run.started_at or run.created_at
    return timezone.now() - since > timedelta(seconds=wall + LOST_MARGIN_S)


def scratch_page(*, user: AbstractBaseUser, exercise: str, wanted: int = 0) -> dict | None:
    """The console's part of the exercise page: the script box and the run to show (the
    one asked for, else the latest); None when the run asked for is not this learner's
    run of this exercise."""
    runs = ScratchRun.objects.filter(user=user, exercise=exercise)
    run = runs.filter(pk=wanted).first() if wanted else runs.first()
    if wanted and run is None:
        return None
    return {
        "scratch_run": run,
        "scratch_lost": run is not None and scratch_is_lost(run),
        "scratch_script": run.script if run is not None else STARTER_SCRIPT,
        "scratch_max_kib": MAX_SCRIPT_BYTES // 1024,
    }


def _shown(data: bytes, truncated: bool) -> tuple[str, bool]:
    text = clean_text(data[:SHOWN_BYTES].decode("utf-8", "replace"))
    return text, truncated or len(data) > SHOWN_BYTES


def scratch_run(*, run_id: int) -> None:
    """The worker's half: claim the row, run the job in the sandbox, store the raw output."""
    import sandbox

    claimed = ScratchRun.objects.filter(pk=run_id, status=ScratchRun.Status.QUEUED).update(
        status=ScratchRun.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return  # a redelivered message, or a run already failed to queue
    run = ScratchRun.objects.get(pk=run_id)
    try:
        limits = grading_limits(spec=catalog.exercise_get(run.exercise))
    except KeyError:
        limits = sandbox.Limits(wall_s=settings.SANDBOX_WALL_S)
    limits = dataclasses.replace(limits, gpus="none")  # the console runs on the CPU
    job = sandbox.Job(
        files={
            "solution.py": run.code.encode("utf-8"),
            "scratch.py": run.script.encode("utf-8"),
            "harness.py": RUNNER,
        },
        command=list(COMMAND),
        env=dict(JOB_ENV),
    )
    started = time.monotonic()
    try:
        backend = sandbox.select_backend(
            settings.SANDBOX_BACKEND, image=settings.SANDBOX_IMAGE or None
        )
        result = backend.run(job, limits)
    except sandbox.SandboxUnavailable as exc:
        ScratchRun.objects.filter(pk=run_id).update(
            status=ScratchRun.Status.FAILED,
            outcome="sandbox_error",
            stderr=f"No sandbox can run code on this server right now ({exc}).",
            wall_s=time.monotonic() - started,
            finished_at=timezone.now(),
        )
        return
    stdout, out_cut = _shown(result.stdout, result.stdout_truncated)
    stderr, err_cut = _shown(result.stderr, result.stderr_truncated)
    ScratchRun.objects.filter(pk=run_id).update(
        status=ScratchRun.Status.DONE,
        outcome=str(result.status),
        exit_code=result.exit_code,
        stdout=stdout,
        stderr=stderr,
        stdout_truncated=out_cut,
        stderr_truncated=err_cut,
        wall_s=result.wall_s,
        backend=result.backend,
        finished_at=timezone.now(),
    )
