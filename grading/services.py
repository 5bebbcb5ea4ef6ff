"""Writes a request makes to the grading app: check and store a submission; the CLI's owner.

Views, the API and the `grade` command call these. The rest of a submission's life is
the worker's: `grading.dispatch` sends it, `grading.flow` grades it, `grading.claims`
keeps one worker per row and recovers rows whose worker or message was lost.
Guarantees:
- A refused source (over 64 KiB, not UTF-8, unknown exercise) raises SubmissionRefused
  before any row or message exists.
- Messages are sent on commit, so a worker never looks for a row it cannot see yet.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from grading import catalog
from grading.dispatch import PRIORITY_NEW, QUEUE_WINDOW, enqueue_on_commit, gpu_tests_offered
from grading.models import Submission

MAX_SOURCE_BYTES = 64 * 1024  # the limit; the engine refuses the same
# The owner of `manage.py grade` runs. The colon is refused by Django's username
# validator, which sign-up and the admin's user form use, so no learner can take this
# name and read what an operator graded ("grade-cli", the old name, could be).
CLI_USERNAME = "grading:cli"


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
    limited: bool = True,
) -> Submission:
    """Validate and store a submission, and queue its grading once the row is committed.

    With `enqueue` (every learner-facing caller), at most GRADING_MAX_ACTIVE of the
    learner's submissions may be queued or running: one more raises SubmissionThrottled.
    The `grade` command grades in its own process (`enqueue=False`) and is not counted,
    nor is a grading the learner cannot postpone (`limited=False`: a mock interview's
    final grading of its last saved code when the attempt ends).

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
            if enqueue and limited:
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
                enqueue_on_commit(
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
