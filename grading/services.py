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
import re
import threading
import uuid
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models import F
from django.utils import timezone

from config.celery_app import app as celery_app
from grading import catalog
from grading.catalog import ExerciseSpec
from grading.events import exercise_passed
from grading.models import Submission, TestResult
from sandbox import Limits, SandboxUnavailable

if TYPE_CHECKING:
    from grading.engine import Verdict

logger = logging.getLogger(__name__)

MAX_SOURCE_BYTES = 64 * 1024  # the limit; the engine refuses the same
MAX_SANDBOX_RETRIES = 3  # then the learner is told it is our fault
# Seconds the Celery task may take beyond the sandbox's own wall limit: the worker also
# starts the container, runs the reference solution and writes the verdict.
TASK_SOFT_MARGIN_S = 60
TASK_HARD_MARGIN_S = 30  # after the soft limit, time to record a clean sandbox_error
# The worker grading a row renews its deadline every HEARTBEAT_EVERY_S; a row whose
# heartbeat is HEARTBEAT_STALE_S old lost its worker (killed, or its host gone) and the
# sweeper, which runs every few seconds, gives it back to the queue. Stale is several
# beats, so a slow database write or two never makes a live worker look dead.
HEARTBEAT_EVERY_S = 2.0
HEARTBEAT_STALE_S = 10.0
# A queued row not picked up within this window had its message lost (a broker restart,
# a purged queue): the sweeper sends it again. A duplicate message is harmless. Where the
# broker can be searched (Redis), a missing message is found sooner: MESSAGE_GRACE_S after
# the row was queued (its message goes out right after the commit).
QUEUE_WINDOW = timedelta(minutes=5)
MESSAGE_GRACE_S = 10.0
# Each message's task id names its row, so the sweeper can find the row's message.
TASK_ID_PREFIX = "submission-"
# Message priorities (kombu's Redis transport serves 0 first, in steps 0, 3, 6, 9). Work
# that was already started once (its worker was lost, it is retried, or handed back) goes
# first; a queued row whose message was lost rejoins ahead of new submissions.
PRIORITY_AGAIN = 0
PRIORITY_RESENT = 3
PRIORITY_NEW = 6
# The owner of `manage.py grade` runs. The colon is refused by Django's username
# validator, which sign-up and the admin's user form use, so no learner can take this
# name and read what an operator graded ("grade-cli", the old name, could be).
CLI_USERNAME = "grading:cli"


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


class SubmissionThrottled(SubmissionRefused):
    """The learner already has GRADING_MAX_ACTIVE runs in flight; try after `retry_after_s`."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def _check_active_limit(*, user: AbstractBaseUser) -> None:
    """Refuse a new run while the learner has GRADING_MAX_ACTIVE queued or running.

    Called inside the creating transaction with the learner's row locked (Postgres), so
    two requests at once cannot both take the last free place.
    """
    get_user_model().objects.select_for_update().filter(pk=user.pk).exists()
    active = Submission.objects.filter(
        user=user, status__in=(Submission.Status.QUEUED, Submission.Status.RUNNING)
    ).count()
    limit = settings.GRADING_MAX_ACTIVE
    if active >= limit:
        raise SubmissionThrottled(
            f"You already have {active} runs waiting or being graded (at most {limit} at "
            "once). Wait for one to finish, then submit again.",
            # One run ends within its wall limit once a worker has it.
            retry_after_s=max(1, int(settings.SANDBOX_WALL_S)),
        )


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


def _enqueue(
    *,
    submission_id: int,
    exercise: str,
    countdown: float | None = None,
    priority: int = PRIORITY_NEW,
) -> None:
    # By name, so that this module never imports grading.tasks (which imports it).
    on_gpu = Submission.objects.filter(pk=submission_id, on_gpu=True).exists()
    try:
        spec = catalog.exercise_get(exercise)
    except KeyError:
        queue, limits = "grade.cpu", Limits()  # the worker records the unknown exercise
    else:
        queue, limits = grading_queue(spec=spec, on_gpu=on_gpu), grading_limits(spec=spec)
    time_limits = grading_time_limits(limits=limits, on_gpu=on_gpu)
    celery_app.send_task(
        "grading.grade_submission",
        args=[submission_id],
        task_id=f"{TASK_ID_PREFIX}{submission_id}-{uuid.uuid4().hex[:12]}",
        queue=queue,
        countdown=countdown,
        # A row sent again has waited once already: it goes ahead of the backlog instead
        # of behind it (Redis: 0 is served first).
        priority=priority,
        soft_time_limit=time_limits.soft_s,
        time_limit=time_limits.hard_s,
    )


def _enqueue_or_leave_to_sweeper(
    *,
    submission_id: int,
    exercise: str,
    countdown: float | None = None,
    priority: int = PRIORITY_NEW,
) -> None:
    """Send the message; should the broker be down, the committed row is the promise.

    The row stays queued without a message, and the sweeper sends it once the broker
    answers (it looks for rows whose message is missing), so the caller never fails
    for a submission that was stored.
    """
    try:
        _enqueue(
            submission_id=submission_id, exercise=exercise, countdown=countdown, priority=priority
        )
    except Exception as exc:  # noqa: BLE001 - any broker failure: the sweeper recovers it
        logger.warning("submission %s: not sent (%s: %s); the sweeper will send it",
                       submission_id, type(exc).__name__, exc)  # fmt: skip


def _enqueue_on_commit(
    *,
    submission_id: int,
    exercise: str,
    countdown: float | None = None,
    priority: int = PRIORITY_AGAIN,
) -> None:
    transaction.on_commit(
        functools.partial(
            _enqueue_or_leave_to_sweeper,
            submission_id=submission_id,
            exercise=exercise,
            countdown=countdown,
            priority=priority,
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
    idempotency_key: str | None = None,
    on_gpu: bool = False,
) -> Submission:
    """Validate and store a submission, and queue its grading once the row is committed.

    With `enqueue` (every learner-facing caller), at most GRADING_MAX_ACTIVE of the
    learner's submissions may be queued or running: one more raises SubmissionThrottled.
    The `grade` command grades in its own process (`enqueue=False`) and is not counted.

    With an `idempotency_key` the same learner's same key returns the submission stored
    the first time (a client retrying after a lost answer makes no duplicate); the same
    key with another exercise, kind or code is refused.

    `on_gpu` asks for the device tests too; it is kept only for a submission (not sample
    tests) of an exercise that has them, where GPU workers exist (gpu_tests_offered).
    """
    if idempotency_key is not None:
        idempotency_key = idempotency_key.strip()[:200] or None
    if idempotency_key:
        earlier = _submission_for_key(
            user=user, key=idempotency_key, exercise=exercise, code=code, kind=kind
        )
        if earlier is not None:
            return earlier
    if kind not in Submission.Kind.values:
        raise SubmissionRefused(f"Unknown kind {kind!r}: use 'sample' or 'submit'.")
    text = source_check(code=code)
    try:
        spec = catalog.exercise_get(exercise)
    except KeyError:
        raise SubmissionRefused(f"There is no exercise named {exercise!r}.") from None
    on_gpu = on_gpu and kind == Submission.Kind.SUBMIT and gpu_tests_offered(spec=spec)
    now = timezone.now()
    try:
        with transaction.atomic():
            if enqueue:
                _check_active_limit(user=user)
            submission = Submission.objects.create(
                user=user,
                exercise=exercise,
                code=text,
                kind=kind,
                on_gpu=on_gpu,
                status=Submission.Status.QUEUED,
                queued_at=now,
                deadline=now + QUEUE_WINDOW,
                idempotency_key=idempotency_key,
            )
            if enqueue:
                _enqueue_on_commit(
                    submission_id=submission.pk, exercise=exercise, priority=PRIORITY_NEW
                )
    except IntegrityError:
        if not idempotency_key:
            raise
        # Two requests with one key at once: the other stored it first.
        earlier = _submission_for_key(
            user=user, key=idempotency_key, exercise=exercise, code=code, kind=kind
        )
        if earlier is None:
            raise
        return earlier
    return submission


def _submission_for_key(
    *, user: AbstractBaseUser, key: str, exercise: str, code: str | bytes, kind: str
) -> Submission | None:
    earlier = Submission.objects.filter(user=user, idempotency_key=key).first()
    if earlier is None:
        return None
    text = code.decode("utf-8", "replace") if isinstance(code, bytes) else code
    if (earlier.exercise, earlier.kind, earlier.code) != (exercise, kind, text):
        raise SubmissionRefused(
            "This Idempotency-Key was already used for another submission (a different "
            "exercise, kind or code). Use a new key for new code. Nothing was queued."
        )
    return earlier


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


def submission_hand_back(*, submission_ids: list[int], now: datetime | None = None) -> list[int]:
    """Give running rows back to the queue at once (a worker stopping without finishing).

    The claim is dropped in one guarded UPDATE per row and a message is sent; the worker
    still holding the old claim cannot store anything over a newer one. The attempt is
    not counted: stopping was not the sandbox's failure.
    """
    now = now or timezone.now()
    handed: list[int] = []
    for pk, exercise in Submission.objects.filter(
        pk__in=submission_ids, status=Submission.Status.RUNNING
    ).values_list("pk", "exercise"):
        with transaction.atomic():
            updated = Submission.objects.filter(pk=pk, status=Submission.Status.RUNNING).update(
                status=Submission.Status.QUEUED,
                queued_at=now,
                started_at=None,
                deadline=now + QUEUE_WINDOW,
            )
            if updated:
                _enqueue_on_commit(submission_id=pk, exercise=exercise)
                handed.append(pk)
    return handed


def submission_claim(*, submission_id: int, now: datetime | None = None) -> datetime | None:
    """Move a queued row to running in one UPDATE; the claim's time, or None if taken.

    The claim holds HEARTBEAT_STALE_S unless its Heartbeat renews it.
    """
    claimed_at = now or timezone.now()
    claimed = Submission.objects.filter(pk=submission_id, status=Submission.Status.QUEUED).update(
        status=Submission.Status.RUNNING,
        started_at=claimed_at,
        deadline=claimed_at + timedelta(seconds=HEARTBEAT_STALE_S),
    )
    return claimed_at if claimed else None


class Heartbeat(threading.Thread):
    """Renews a claimed row's deadline every `every_s` while its grading runs.

    From its own database connection: a worker killed mid-grade stops beating, and the
    sweeper finds the row HEARTBEAT_STALE_S later instead of after the hard time limit.
    Every write is guarded by the claim, so a finished or re-claimed row is left alone.
    Inside the caller's open transaction (tests) the claim is not visible to another
    connection yet, so there it does nothing.
    """

    def __init__(
        self, *, submission_id: int, claimed_at: datetime, every_s: float = HEARTBEAT_EVERY_S
    ) -> None:
        super().__init__(name=f"heartbeat-{submission_id}", daemon=True)
        self.submission_id = submission_id
        self.claimed_at = claimed_at
        self.every_s = every_s
        self._stopped = threading.Event()

    def start(self) -> None:
        if not transaction.get_connection().in_atomic_block:
            super().start()

    def run(self) -> None:
        try:
            while not self._stopped.wait(self.every_s):
                try:
                    Submission.objects.filter(
                        pk=self.submission_id,
                        status=Submission.Status.RUNNING,
                        started_at=self.claimed_at,
                    ).update(deadline=timezone.now() + timedelta(seconds=HEARTBEAT_STALE_S))
                except DatabaseError as exc:
                    logger.warning("submission %s: heartbeat not written: %s",
                                   self.submission_id, exc)  # fmt: skip
        finally:
            connections.close_all()  # this thread's own connections

    def stop(self) -> None:
        self._stopped.set()


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
                _enqueue_on_commit(
                    submission_id=pk,
                    exercise=exercise,
                    priority=PRIORITY_AGAIN if status == Submission.Status.RUNNING
                    else PRIORITY_RESENT,
                )  # fmt: skip
                swept.append(pk)
    swept += _resend_lost_messages(now=now, skip=set(swept))
    if swept:
        logger.warning("sweeper re-enqueued submissions %s", swept)
    return swept


def _resend_lost_messages(*, now: datetime, skip: set[int]) -> list[int]:
    """Send again the queued rows whose message the broker no longer holds.

    Only where the broker can be searched (Redis: its queues and its unacked messages);
    elsewhere QUEUE_WINDOW is the only net. A row is looked at MESSAGE_GRACE_S after it
    was queued, so a message still on its way after the commit is not taken for lost.
    """
    waiting = {
        pk: (exercise, deadline)
        for pk, exercise, deadline in Submission.objects.filter(
            status=Submission.Status.QUEUED,
            queued_at__lt=now - timedelta(seconds=MESSAGE_GRACE_S),
            deadline__gte=now,
        ).values_list("pk", "exercise", "deadline")[:2000]
        if pk not in skip
    }
    if not waiting:
        return []
    held = submissions_in_broker()
    if held is None:
        return []
    resent = []
    for pk, (exercise, deadline) in waiting.items():
        if pk in held:
            continue
        with transaction.atomic():
            updated = Submission.objects.filter(
                pk=pk, status=Submission.Status.QUEUED, deadline=deadline
            ).update(deadline=now + QUEUE_WINDOW)
            if updated:
                _enqueue_on_commit(submission_id=pk, exercise=exercise, priority=PRIORITY_RESENT)
                resent.append(pk)
    return resent


_TASK_ID = re.compile(rb'"' + re.escape(TASK_ID_PREFIX.encode()) + rb"(\d+)-")
GRADING_QUEUES = ("grade.cpu", "grade.gpu")
# A queued row's message is claimed within moments of its delivery (a retry's countdown
# holds it at most 8 s); one still unacknowledged after this is sent again (a duplicate
# is harmless: the claim is one UPDATE).
UNACKED_HELD_S = 20.0


def submissions_in_broker() -> set[int] | None:
    """Ids of the submissions with a message in the broker (waiting or unacked).

    None where the broker cannot be searched (not Redis, or not answering): then nothing
    may be concluded from an absence.
    """
    url = celery_app.conf.broker_url or settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        found: set[int] = set()
        for queue in GRADING_QUEUES:
            # kombu keeps one list per priority step: the queue's name, then name+suffix.
            for key in client.scan_iter(match=f"{queue}*", count=100):
                for raw in client.lrange(key, 0, -1):
                    found.update(int(m) for m in _TASK_ID.findall(raw))
        # Delivered but not acknowledged: held, unless delivered UNACKED_HELD_S ago (a
        # worker killed before claiming it; Redis would keep it for an hour).
        delivered_before = timezone.now().timestamp() - UNACKED_HELD_S
        since = dict(client.zrange("unacked_index", 0, -1, withscores=True))
        for tag, raw in client.hgetall("unacked").items():
            if since.get(tag, delivered_before) >= delivered_before:
                found.update(int(m) for m in _TASK_ID.findall(raw))
        return found
    except Exception as exc:  # noqa: BLE001 - an unreadable broker proves nothing
        logger.warning("sweeper could not search the broker: %s", exc)
        return None


def grading_cli_user() -> AbstractBaseUser:
    """The inactive account that owns submissions made by `manage.py grade`.

    Its name is one sign-up cannot create (CLI_USERNAME); it has no usable password.
    """
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=CLI_USERNAME, defaults={"is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user
