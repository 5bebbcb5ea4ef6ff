"""Writes of the grading app: create, grade, retry and sweep submissions; API tokens.

Views, the Celery tasks, the `grade` command and the API call these and nothing else.
Guarantees:
- A refused source (over 64 KiB, not UTF-8, unknown exercise) raises SubmissionRefused
  before any row or message exists.
- Messages are sent on commit, so a worker never looks for a row it cannot see yet.
- Exactly one worker grades a row: the queued -> running claim is one guarded UPDATE,
  and every later write is guarded by the claim's `started_at`, so a worker that lost
  its claim to the sweeper cannot overwrite the newer outcome.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from config.celery_app import app as celery_app
from grading.events import exercise_passed
from grading.models import Submission, TestResult
from sandbox import Limits, SandboxUnavailable

if TYPE_CHECKING:
    from grading.engine import ExerciseSpec, Verdict

logger = logging.getLogger(__name__)

MAX_SOURCE_BYTES = 64 * 1024  # the limit; the engine refuses the same
MAX_SANDBOX_RETRIES = 3  # then the learner is told it is our fault
# Seconds the Celery task may take beyond the sandbox's own wall limit: the worker also
# starts the container, runs the reference solution and writes the verdict.
TASK_SOFT_MARGIN_S = 60
TASK_HARD_MARGIN_S = 30  # after the soft limit, time to record a clean sandbox_error
# A running row is only given back to the queue once its worker must be dead: its hard
# time limit has passed, plus this much for the broker to redeliver.
CLAIM_SLACK_S = 30
# A queued row not picked up within this window had its message lost (a broker restart,
# a purged queue): the sweeper sends it again. A duplicate message is harmless.
QUEUE_WINDOW = timedelta(minutes=5)
CLI_USERNAME = "grade-cli"


def no_sandbox_message(*, reason: str) -> str:
    """What the learner sees when the worker has no way to run code (docs/architecture.md)."""
    return (
        "Your code could not be run: the grading worker has no sandbox to run it in "
        f"({reason}). This is not a problem with your submission. Whoever runs this server "
        "can enable one: start the Docker engine and build the image with "
        "`make sandbox-image`, or install bubblewrap on Linux."
    )


OUR_FAULT_MESSAGE = (
    "The grading system failed to run your code, several times. This is our fault, not a "
    "problem with your submission, and it does not count against you. Please submit again "
    "in a few minutes."
)
ERROR_MESSAGES = {
    "syntax": "Your code has a syntax error, so it could not be imported.",
    "syntax_error": "Your code has a syntax error, so it could not be imported.",
    "import": "Your code raised an error while it was being imported.",
    "import_error": "Your code raised an error while it was being imported.",
    "runtime": "Your code raised an error while the tests ran.",
    "runtime_error": "Your code raised an error while the tests ran.",
    "interface": "Your code does not provide what the exercise asks for (a name or signature).",
    "timeout": "Your code ran past the time limit and was stopped.",
    "memory": "Your code used more memory than allowed and was stopped.",
    "memory_limit": "Your code used more memory than allowed and was stopped.",
    "output": "Your code printed more output than allowed and was stopped.",
    "output_limit": "Your code printed more output than allowed and was stopped.",
}


class SubmissionRefused(ValueError):
    """The source cannot be graded as sent; `str(exc)` tells the learner why."""


def _engine() -> ModuleType:
    # Imported on use: the engine pulls torch, which the web process needs only here.
    from grading import engine

    return engine


# --- limits and queues -----------------------------------------------------------------


def grading_limits(*, spec: ExerciseSpec) -> Limits:
    """This host's sandbox settings, raised to what the exercise needs where it needs more."""
    wants_gpu = spec.queue == "grade.gpu" and settings.SANDBOX_GPUS != "none"
    base = Limits(
        wall_s=settings.SANDBOX_WALL_S,
        memory_mb=settings.SANDBOX_MEMORY_MB,
        pids=settings.SANDBOX_PIDS,
        cpus=settings.SANDBOX_CPUS,
        output_bytes=settings.SANDBOX_OUTPUT_KB * 1024,
        tmpfs_mb=settings.SANDBOX_TMPFS_MB,
        gpus=settings.SANDBOX_GPUS if wants_gpu else "none",
    )
    own = spec.limits
    if own is None:
        return base
    merged: dict[str, Any] = {}
    for field in fields(Limits):
        mine, theirs = getattr(base, field.name), getattr(own, field.name)
        merged[field.name] = max(mine, theirs) if isinstance(mine, int | float) else mine
    return Limits(**merged)


def grading_queue(*, spec: ExerciseSpec, on_gpu: bool = False) -> str:
    """grade.gpu only where this deployment runs GPU workers (GRADING_GPU=1): for a GPU
    exercise, or a submission that asked for the device tests."""
    wants = spec.queue == "grade.gpu" or (on_gpu and spec.device_tests)
    return "grade.gpu" if wants and settings.GRADING_GPU else "grade.cpu"


def _device_test_gpus(*, submission: Submission) -> str:
    """The GPUs for a submission's device tests: this worker's, when it asked for them.

    A worker that takes grade.gpu without SANDBOX_GPUS asks for all GPUs, so that a host
    without one fails loudly (sandbox_error) instead of leaving the device tests out.
    """
    if not submission.on_gpu:
        return "none"
    return settings.SANDBOX_GPUS if settings.SANDBOX_GPUS != "none" else "all"


def gpu_tests_offered(*, spec: ExerciseSpec) -> bool:
    """Whether a learner may ask for this exercise's device tests here."""
    return spec.device_tests and settings.GRADING_GPU


@dataclass(frozen=True)
class TaskTimeLimits:
    soft_s: float
    hard_s: float


def grading_time_limits(*, limits: Limits, on_gpu: bool = False) -> TaskTimeLimits:
    # Device tests run in a second job of the same limits, after the CPU tests' job.
    soft = limits.wall_s * (2 if on_gpu else 1) + TASK_SOFT_MARGIN_S
    return TaskTimeLimits(soft_s=soft, hard_s=soft + TASK_HARD_MARGIN_S)


def _enqueue(*, submission_id: int, exercise: str, countdown: float | None = None) -> None:
    # By name, so that this module never imports grading.tasks (which imports it).
    on_gpu = Submission.objects.filter(pk=submission_id, on_gpu=True).exists()
    try:
        spec = _engine().exercise_get(exercise)
    except KeyError:
        queue, limits = "grade.cpu", Limits()  # the worker records the unknown exercise
    else:
        queue, limits = grading_queue(spec=spec, on_gpu=on_gpu), grading_limits(spec=spec)
    time_limits = grading_time_limits(limits=limits, on_gpu=on_gpu)
    celery_app.send_task(
        "grading.grade_submission",
        args=[submission_id],
        queue=queue,
        countdown=countdown,
        soft_time_limit=time_limits.soft_s,
        time_limit=time_limits.hard_s,
    )


def _enqueue_on_commit(
    *, submission_id: int, exercise: str, countdown: float | None = None
) -> None:
    transaction.on_commit(
        functools.partial(
            _enqueue, submission_id=submission_id, exercise=exercise, countdown=countdown
        )
    )


# --- submissions -----------------------------------------------------------------------


def source_check(*, code: str | bytes) -> str:
    """The source as text, or SubmissionRefused saying what is wrong with it."""
    if isinstance(code, bytes):
        raw = code
    else:
        try:
            raw = code.encode("utf-8")
        except UnicodeEncodeError as exc:  # lone surrogates, e.g. from a JSON "\ud800"
            raise SubmissionRefused(
                "The code is not valid UTF-8 text (it contains an unpaired surrogate at "
                f"character {exc.start}). Save the file as UTF-8 and submit again."
            ) from None
    if len(raw) > MAX_SOURCE_BYTES:
        raise SubmissionRefused(
            f"The code is {len(raw):,} bytes; the limit is {MAX_SOURCE_BYTES:,} bytes (64 KiB). "
            "Nothing was queued."
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionRefused(
            f"The code is not valid UTF-8 (bad byte at offset {exc.start}). Save the file as "
            "UTF-8 and submit again. Nothing was queued."
        ) from None
    if not text.strip():
        raise SubmissionRefused("The code is empty. Nothing was queued.")
    return text


def submission_create(
    *,
    user: AbstractBaseUser,
    exercise: str,
    code: str | bytes,
    kind: str = Submission.Kind.SUBMIT,
    enqueue: bool = True,
    on_gpu: bool = False,
) -> Submission:
    """Validate and store a submission, and queue its grading once the row is committed.

    `on_gpu` asks for the device tests too; it is kept only for a submission (not sample
    tests) of an exercise that has them, where GPU workers exist (gpu_tests_offered).
    """
    if kind not in Submission.Kind.values:
        raise SubmissionRefused(f"Unknown kind {kind!r}: use 'sample' or 'submit'.")
    text = source_check(code=code)
    try:
        spec = _engine().exercise_get(exercise)
    except KeyError:
        raise SubmissionRefused(f"There is no exercise named {exercise!r}.") from None
    on_gpu = on_gpu and kind == Submission.Kind.SUBMIT and gpu_tests_offered(spec=spec)
    now = timezone.now()
    with transaction.atomic():
        submission = Submission.objects.create(
            user=user,
            exercise=exercise,
            code=text,
            kind=kind,
            on_gpu=on_gpu,
            status=Submission.Status.QUEUED,
            queued_at=now,
            deadline=now + QUEUE_WINDOW,
        )
        if enqueue:
            _enqueue_on_commit(submission_id=submission.pk, exercise=exercise)
    return submission


def _learner_message(verdict: Verdict) -> str:
    if verdict.status == "passed":
        return f"All {verdict.total} tests passed."
    if verdict.status == "failed":
        return f"{verdict.passed} of {verdict.total} tests passed."
    if verdict.error_kind in ("timeout", "memory", "output_limit") and verdict.tests:
        # The engine's message names the limit that was hit, with its value.
        text = verdict.tests[0].message.removeprefix("not run to the end: ")
        return f"{text[:1].upper()}{text[1:]}, and was stopped."
    return ERROR_MESSAGES.get(
        verdict.error_kind, "Your code stopped with an error before the tests could finish."
    )


def _record_plan_progress(*, user_id: int, exercise: str) -> None:
    # Whoever keeps a plan (learning) listens; grading works whether or not anyone does.
    user = get_user_model().objects.get(pk=user_id)
    exercise_passed.send(sender=Submission, user=user, exercise=exercise)


STORE_FAILED_MESSAGE = (
    "Your code was graded, but the result could not be saved (our fault, not your code). "
    "Please submit again."
)


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
            _enqueue_on_commit(
                submission_id=submission.pk, exercise=submission.exercise, countdown=countdown
            )
    return bool(updated)


def retry_countdown(*, attempts: int) -> int:
    """Seconds before retry number attempts+1: 2, 4, 8."""
    return 2 ** (attempts + 1)


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
    time_limits = grading_time_limits(limits=limits, on_gpu=submission.on_gpu)
    claimed_at = timezone.now()
    claimed = Submission.objects.filter(pk=submission_id, status=Submission.Status.QUEUED).update(
        status=Submission.Status.RUNNING,
        started_at=claimed_at,
        deadline=claimed_at + timedelta(seconds=time_limits.hard_s + CLAIM_SLACK_S),
    )
    if not claimed:
        return None
    submission.refresh_from_db()

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
                    "message": _learner_message(verdict),
                    "stderr_excerpt": verdict.stderr_excerpt if is_error else "",
                    "backend": verdict.backend,
                    "wall_s": verdict.wall_s,
                },
                tests=list(verdict.tests),
            )
    submission.refresh_from_db()
    return submission


def submission_sweep(*, now: datetime | None = None) -> list[int]:
    """Send again the rows stuck in queued or running past their deadline; return their ids.

    A running row past its deadline lost its worker (the hard time limit is shorter):
    it goes back to queued in one UPDATE guarded by status and deadline, so a sweep that
    races another sweep, or the worker finishing after all, changes nothing twice.
    """
    now = now or timezone.now()
    stuck = list(
        Submission.objects.filter(
            status__in=[Submission.Status.QUEUED, Submission.Status.RUNNING], deadline__lt=now
        )
        .order_by("deadline")
        .values_list("pk", "status", "deadline", "attempts", "exercise")[:500]
    )
    swept: list[int] = []
    for pk, status, deadline, attempts, exercise in stuck:
        guard = Submission.objects.filter(pk=pk, status=status, deadline=deadline)
        with transaction.atomic():
            if status == Submission.Status.RUNNING and attempts >= MAX_SANDBOX_RETRIES:
                guard.update(
                    status=Submission.Status.SANDBOX_ERROR,
                    error_kind="sandbox_error",
                    message=OUR_FAULT_MESSAGE,
                    detail="the worker grading it was lost too many times",
                    finished_at=now,
                    deadline=None,
                )
                continue
            changes: dict[str, Any] = {"deadline": now + QUEUE_WINDOW}
            if status == Submission.Status.RUNNING:
                changes.update(
                    status=Submission.Status.QUEUED,
                    queued_at=now,
                    started_at=None,
                    attempts=F("attempts") + 1,
                )
            updated = guard.update(**changes)
            if updated:
                _enqueue_on_commit(submission_id=pk, exercise=exercise)
                swept.append(pk)
    if swept:
        logger.warning("sweeper re-enqueued submissions %s", swept)
    return swept


def grading_cli_user() -> AbstractBaseUser:
    """The inactive account that owns submissions made by `manage.py grade`."""
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=CLI_USERNAME, defaults={"is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user
