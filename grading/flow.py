"""Grading one submission in a worker: claim it, run the engine, store the outcome.

A sandbox failure is ours: it is retried with backoff (2, 4, 8 s) and never recorded as
the candidate's error. Every write is guarded by the claim (`grading.claims`), and every
text that came out of the sandbox is cleaned before it is stored.
"""

from __future__ import annotations

import functools
import gc
import logging
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from grading.catalog import ExerciseSpec
from grading.claims import MAX_SANDBOX_RETRIES, Heartbeat, submission_claim
from grading.dispatch import QUEUE_WINDOW, enqueue_on_commit, grading_limits
from grading.events import exercise_passed
from grading.messages import (
    OUR_FAULT_MESSAGE,
    STORE_FAILED_MESSAGE,
    learner_message,
    no_sandbox_message,
)
from grading.models import Submission, TestResult
from grading.services import CLI_USERNAME
from sandbox import Limits, SandboxUnavailable

logger = logging.getLogger(__name__)


def _engine() -> ModuleType:
    # Imported on use: the engine pulls torch, which the web process needs only here.
    from grading import engine

    return engine


_FROZEN = False


def _freeze_once() -> None:
    """After a process's first grading: what it has loaded by then (Django, Celery, torch,
    numpy, the exercises: over a million objects) stays for its life. Out of the cyclic
    collector's sight, a full collection during a later grading takes milliseconds instead
    of some 100 ms."""
    global _FROZEN
    if not _FROZEN:
        _FROZEN = True
        gc.collect()
        gc.freeze()


def submission_grade(*, submission_id: int, requeue: bool = True) -> Submission | None:
    """Grade one queued submission. Returns None when there was nothing to do.

    Safe to call any number of times for the same id: only the call whose UPDATE moves
    the row from queued to running does the work. With requeue=False a sandbox error
    leaves the row queued for the caller to retry (the `grade` command does, in-process).
    """
    submission = Submission.objects.select_related("user").filter(pk=submission_id).first()
    if submission is None:
        return None
    engine = _engine()
    try:
        spec = engine.exercise_get(submission.exercise)
    except KeyError:
        spec = None
    limits = grading_limits(spec=spec) if spec is not None else Limits()
    claimed_at = submission_claim(submission_id=submission_id)
    if claimed_at is None:
        return None
    submission.refresh_from_db()
    heartbeat = Heartbeat(submission_id=submission_id, claimed_at=claimed_at)
    heartbeat.start()
    try:
        return _grade_claimed(
            submission=submission, spec=spec, limits=limits, claimed_at=claimed_at,
            requeue=requeue, engine=engine,
        )  # fmt: skip
    finally:
        heartbeat.stop()
        _freeze_once()


def _grade_claimed(
    *,
    submission: Submission,
    spec: ExerciseSpec | None,
    limits: Limits,
    claimed_at: datetime,
    requeue: bool,
    engine: ModuleType,
) -> Submission:
    submission_id = submission.pk

    if spec is None:
        _finish(
            submission=submission,
            claimed_at=claimed_at,
            values={
                "status": Submission.Status.ERROR,
                "error_kind": "unknown_exercise",
                "message": f"The exercise {submission.exercise!r} no longer exists.",
            },
            tests=[],
        )
        submission.refresh_from_db()
        return submission

    try:
        verdict = engine.grade(
            exercise=submission.exercise,
            source=submission.code,
            sample=submission.kind == Submission.Kind.SAMPLE,
            backend=settings.SANDBOX_BACKEND,
            image=settings.SANDBOX_IMAGE or None,
            limits=limits,
            gpus=_device_test_gpus(submission=submission),
        )
    except SandboxUnavailable as exc:
        _retry_or_give_up(submission=submission, claimed_at=claimed_at,
                          detail=f"no sandbox backend: {exc}", backend="", requeue=requeue,
                          message=no_sandbox_message(reason=str(exc)))  # fmt: skip
    except ValueError as exc:  # the engine refused the source after all
        _finish(
            submission=submission,
            claimed_at=claimed_at,
            values={
                "status": Submission.Status.ERROR,
                "error_kind": "refused",
                "message": str(exc),
            },  # fmt: skip
            tests=[],
        )
    except Exception as exc:  # noqa: BLE001 - any failure of ours, incl. the soft time limit
        logger.exception("submission %s: grading raised", submission_id)
        _retry_or_give_up(submission=submission, claimed_at=claimed_at,
                          detail=f"{type(exc).__name__}: {exc}", backend="", requeue=requeue)  # fmt: skip
    else:
        if verdict.status == "sandbox_error":
            detail = getattr(verdict, "detail", "") or verdict.stderr_excerpt
            _retry_or_give_up(
                submission=submission,
                claimed_at=claimed_at,
                detail=detail,
                backend=verdict.backend,
                requeue=requeue,
                message=no_sandbox_message(reason=detail)
                if verdict.error_kind == "unavailable"
                else OUR_FAULT_MESSAGE,
            )
        else:
            is_error = verdict.status == "error"
            _finish(
                submission=submission,
                claimed_at=claimed_at,
                values={
                    "status": verdict.status,
                    "score": verdict.score,
                    "passed": verdict.passed,
                    "total": verdict.total,
                    "error_kind": verdict.error_kind,
                    "message": learner_message(verdict),
                    "stderr_excerpt": verdict.stderr_excerpt if is_error else "",
                    "backend": verdict.backend,
                    "wall_s": verdict.wall_s,
                },
                tests=list(verdict.tests),
            )
    submission.refresh_from_db()
    return submission


def _device_test_gpus(*, submission: Submission) -> str:
    """The GPUs for a submission's device tests: this worker's, when it asked for them.

    A worker that takes grade.gpu without SANDBOX_GPUS asks for all GPUs, so that a host
    without one fails loudly (sandbox_error) instead of leaving the device tests out.
    """
    if not submission.on_gpu:
        return "none"
    return settings.SANDBOX_GPUS if settings.SANDBOX_GPUS != "none" else "all"


def clean_text(value: str) -> str:
    """Text from the sandbox made storable anywhere: no NUL, no lone surrogates.

    Postgres refuses NUL in text columns, and a lone surrogate cannot be encoded as UTF-8;
    either would make the whole outcome unstorable. NUL shows as U+2400 (a visible NUL
    symbol), an unencodable character as "?".
    """
    value = value.replace("\x00", "\u2400")
    return value.encode("utf-8", "replace").decode("utf-8")


def _finish(
    *, submission: Submission, claimed_at: datetime, values: dict[str, Any], tests: list
) -> bool:
    """Store a final outcome and its test rows, if the claim still holds.

    Every text that came out of the sandbox is cleaned first. Should storing still fail,
    the submission ends with STORE_FAILED_MESSAGE rather than staying "running" to be
    graded again and again.
    """
    values = {k: clean_text(v) if isinstance(v, str) else v for k, v in values.items()}
    try:
        return _store(submission=submission, claimed_at=claimed_at, values=values, tests=tests)
    except DatabaseError:
        logger.exception("submission %s: could not store its outcome", submission.pk)
    fallback = {
        "status": Submission.Status.SANDBOX_ERROR,
        "error_kind": "sandbox_error",
        "message": STORE_FAILED_MESSAGE,
        "stderr_excerpt": "",
        "detail": "storing the outcome failed; see the worker's log",
        "score": None,
    }
    return _store(submission=submission, claimed_at=claimed_at, values=fallback, tests=[])


def _store(
    *, submission: Submission, claimed_at: datetime, values: dict[str, Any], tests: list
) -> bool:
    """One transaction: the outcome and its test rows, if the claim still holds."""
    with transaction.atomic():
        updated = Submission.objects.filter(
            pk=submission.pk, status=Submission.Status.RUNNING, started_at=claimed_at
        ).update(finished_at=timezone.now(), deadline=None, **values)
        if not updated:
            return False
        TestResult.objects.bulk_create(
            TestResult(
                submission_id=submission.pk,
                order=index,
                name=clean_text(test.name[:200]),
                category=clean_text(test.category[:40]),
                passed=bool(test.passed),
                message=clean_text(test.message),
            )
            for index, test in enumerate(tests)
        )
        if (
            values.get("status") == Submission.Status.PASSED
            and submission.kind == Submission.Kind.SUBMIT
            and submission.user.get_username() != CLI_USERNAME
        ):
            transaction.on_commit(
                functools.partial(
                    _record_plan_progress,
                    user_id=submission.user_id,
                    exercise=submission.exercise,
                ),
                robust=True,
            )
    return True


def _record_plan_progress(*, user_id: int, exercise: str) -> None:
    # Whoever keeps a plan (learning) listens; grading works whether or not anyone does.
    user = get_user_model().objects.get(pk=user_id)
    exercise_passed.send(sender=Submission, user=user, exercise=exercise)


def _retry_or_give_up(
    *,
    submission: Submission,
    claimed_at: datetime,
    detail: str,
    backend: str,
    requeue: bool,
    message: str = OUR_FAULT_MESSAGE,
) -> bool:
    """A sandbox failure: queue again after 2, 4, 8 s, then tell the learner it is on us."""
    if submission.attempts >= MAX_SANDBOX_RETRIES:
        logger.error("submission %s: sandbox failed %s times: %s", submission.pk,
                     submission.attempts + 1, detail)  # fmt: skip
        return _finish(
            submission=submission,
            claimed_at=claimed_at,
            values={
                "status": Submission.Status.SANDBOX_ERROR,
                "error_kind": "sandbox_error",
                "message": message,
                "stderr_excerpt": "",
                "detail": detail[:4000],
                "backend": backend,
                "score": None,
            },
            tests=[],
        )
    countdown = retry_countdown(attempts=submission.attempts)
    now = timezone.now()
    logger.warning("submission %s: sandbox error, retry in %ss: %s", submission.pk, countdown,
                   detail)  # fmt: skip
    with transaction.atomic():
        updated = Submission.objects.filter(
            pk=submission.pk, status=Submission.Status.RUNNING, started_at=claimed_at
        ).update(
            status=Submission.Status.QUEUED,
            attempts=F("attempts") + 1,
            queued_at=now,
            started_at=None,
            deadline=now + timedelta(seconds=countdown) + QUEUE_WINDOW,
            detail=detail[:4000],
            backend=backend,
        )
        if updated and requeue:
            enqueue_on_commit(
                submission_id=submission.pk, exercise=submission.exercise, countdown=countdown
            )
    return bool(updated)


def retry_countdown(*, attempts: int) -> int:
    """Seconds before retry number attempts+1: 2, 4, 8."""
    return 2 ** (attempts + 1)
