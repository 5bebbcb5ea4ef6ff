"""Writes of mock interviews: start, autosave, submit, lazy expiry, self-review, the
interviewer's scores. The reads (time left, review rows, the interviewer's link) are in
`interviews.selectors`, the clock in `interviews.clock`.

The server owns the clock. `deadline` is fixed by `mock_start` and nothing else moves it,
so a reload or a second tab resumes the same attempt with the same time left. Every
function takes `now` so that tests can move the clock without patching time.
"""

from __future__ import annotations

import datetime as dt
import secrets
import zoneinfo
from collections.abc import Iterable, Mapping

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Prefetch

from accounts.services import profile_get_or_create
from interviews import coding
from interviews.clock import GRACE, now_utc
from interviews.models import MockAnswer, MockAttempt
from interviews.selectors import script_steps
from learning import services
from learning.answers import free_text_hints
from quizbank.models import Item, MockScript, MockStep, RubricPoint

# Standard time, then the extra-time options offered on the start form (WCAG 2.2.1).
TIME_FACTORS = (1.0, 1.5, 2.0)


class MockError(ValueError):
    """A mock action that is not allowed (wrong step, bad option, attempt still running)."""


class MockClosed(MockError):
    """The attempt has ended or its time is up: answers are no longer accepted."""


class MockAlreadyRunning(MockError):
    """The learner already has this script running; `attempt` is the one to resume."""

    def __init__(self, attempt: MockAttempt) -> None:
        super().__init__("this mock interview is already running")
        self.attempt = attempt


# --- writes ------------------------------------------------------------------------------


@transaction.atomic
def mock_start(
    *,
    user: AbstractBaseUser,
    script: MockScript,
    time_factor: float = 1.0,
    untimed: bool = False,
    now: dt.datetime | None = None,
) -> MockAttempt:
    """Start an attempt: deadline = start + duration x factor; none when untimed.

    Every step gets an empty answer row now, so that the review lists every question and
    an autosave is always an update of one row. A learner runs one attempt of a script at
    a time: starting it again (a double click, a second tab) raises MockAlreadyRunning
    rather than starting a second clock.
    """
    at = now_utc(now)
    if script.retired:
        raise MockError("this mock interview has been retired")
    if untimed:
        time_factor = 1.0
    elif time_factor not in TIME_FACTORS:
        raise MockError(f"time factor must be one of {TIME_FACTORS}")
    mock_expire_due_for_user(user=user, now=at)
    running = (
        MockAttempt.objects.select_for_update()
        .filter(user=user, script=script, ended_at__isnull=True)
        .first()
    )
    if running is not None:
        raise MockAlreadyRunning(running)
    deadline = None if untimed else at + dt.timedelta(seconds=script.duration_s * time_factor)
    try:
        with transaction.atomic():
            attempt = MockAttempt.objects.create(
                user=user,
                script=script,
                started_at=at,
                time_factor=time_factor,
                untimed=untimed,
                deadline=deadline,
            )
    except IntegrityError:
        # a concurrent start won the race (the constraint mock_attempt_one_running)
        raise MockAlreadyRunning(
            MockAttempt.objects.get(user=user, script=script, ended_at__isnull=True)
        ) from None
    MockAnswer.objects.bulk_create(
        MockAnswer(attempt=attempt, step=step, text="", saved_at=at)
        for step in script_steps(script)
    )
    return attempt


def _closed_message(attempt: MockAttempt) -> str:
    end = attempt.ended_at or attempt.deadline
    zone = zoneinfo.ZoneInfo(profile_get_or_create(user=attempt.user).time_zone)
    when = end.astimezone(zone).strftime("%H:%M:%S") if end else ""
    if attempt.end_reason == MockAttempt.EndReason.SUBMITTED:
        return f"This mock interview was submitted at {when}; answers can no longer be changed."
    return (
        f"Time ran out at {when}: answers sent after the deadline are not accepted. "
        "Your last saved answers were kept."
    )


def _finish(attempt: MockAttempt, *, reason: str, ended_at: dt.datetime) -> MockAttempt:
    """End the attempt, pre-tick the rubric and flag traps from the final answers."""
    attempt.ended_at = ended_at
    attempt.end_reason = reason
    attempt.save(update_fields=["ended_at", "end_reason"])
    answers = attempt.answers.select_related("step__item").prefetch_related(
        Prefetch("step__item__rubric", queryset=RubricPoint.objects.order_by("order"))
    )
    for answer in answers:
        item = answer.step.item
        if item is None or item.kind != Item.Kind.FREE_TEXT:
            continue
        hints, traps = free_text_hints(item=item, answer=answer.text)
        answer.rubric_ticked = [h.point_id for h in hints if h.likely_covered]
        answer.traps_hit = [t.phrase for t in traps if t.likely_made]
        answer.save(update_fields=["rubric_ticked", "traps_hit"])
    # The plan's hook lives in the learner app's services and is looked up at call time.
    # It runs after commit and `robust` logs its failure instead of raising: a bug in the
    # plan must never stop a timed interview from ending.
    record = getattr(services, "plan_record_mock_finished", None)
    if record is not None:
        user, slug = attempt.user, attempt.script.slug
        transaction.on_commit(lambda: record(user=user, mock_slug=slug, now=ended_at), robust=True)
    # The implementation round's last saved code is graded once the end has committed.
    if attempt.script.steps.filter(exercise__isnull=False).exists():
        attempt_id = attempt.pk
        transaction.on_commit(
            lambda: coding.coding_grade_at_end(attempt_id=attempt_id), robust=True
        )
    return attempt


def _lock(attempt: MockAttempt) -> MockAttempt:
    """Re-read the attempt under a row lock so that autosave, submit and expiry serialise."""
    return (
        MockAttempt.objects.select_for_update().select_related("script", "user").get(pk=attempt.pk)
    )


def _expire_locked(attempt: MockAttempt, at: dt.datetime) -> bool:
    if attempt.ended_at is not None or attempt.deadline is None:
        return False
    if at <= attempt.deadline + GRACE:
        return False
    _finish(attempt, reason=MockAttempt.EndReason.EXPIRED, ended_at=attempt.deadline)
    return True


@transaction.atomic
def mock_expire_if_due(*, attempt: MockAttempt, now: dt.datetime | None = None) -> MockAttempt:
    """Finalise an attempt whose deadline (plus the grace) has passed, with its last
    autosave: ended_at = deadline, reason expired. For learners who closed the tab."""
    locked = _lock(attempt)
    _expire_locked(locked, now_utc(now))
    return locked


def mock_expire_due_for_user(
    *, user: AbstractBaseUser, now: dt.datetime | None = None
) -> list[MockAttempt]:
    """Lazily finalise every open attempt of this learner whose time is up."""
    at = now_utc(now)
    due = MockAttempt.objects.filter(
        user=user, ended_at__isnull=True, deadline__lt=at - GRACE
    ).order_by("pk")
    return [mock_expire_if_due(attempt=attempt, now=at) for attempt in due]


def mock_autosave(
    *, attempt: MockAttempt, step: MockStep, text: str, now: dt.datetime | None = None
) -> MockAnswer:
    """Store the learner's current text for one step.

    Raises MockClosed (with a message for the learner) once the attempt has ended or its
    deadline plus the grace has passed; the stored text is then left as it was.
    """
    at = now_utc(now)
    # The expiry commits on its own, before the refusal below undoes this call's writes.
    mock_expire_if_due(attempt=attempt, now=at)
    with transaction.atomic():
        locked = _lock(attempt)
        if locked.ended_at is not None:
            raise MockClosed(_closed_message(locked))
        if step.script_id != locked.script_id:
            raise MockError("that question is not part of this mock interview")
        answer, created = MockAnswer.objects.get_or_create(
            attempt=locked, step=step, defaults={"text": text, "saved_at": at}
        )
        if not created and answer.text != text:
            answer.text = text
            answer.saved_at = at
            answer.save(update_fields=["text", "saved_at"])
    return answer


@transaction.atomic
def mock_submit(*, attempt: MockAttempt, now: dt.datetime | None = None) -> MockAttempt:
    """End the attempt now. Idempotent: an ended attempt is returned as it is.

    A submit that arrives after the deadline (the browser's automatic submit at zero, or
    a late click) ends it as expired at the deadline: the clock, not the click, decides.
    """
    at = now_utc(now)
    locked = _lock(attempt)
    if locked.ended_at is not None:
        return locked
    if locked.deadline is not None and at > locked.deadline:
        return _finish(locked, reason=MockAttempt.EndReason.EXPIRED, ended_at=locked.deadline)
    return _finish(locked, reason=MockAttempt.EndReason.SUBMITTED, ended_at=at)


@transaction.atomic
def mock_review(
    *,
    attempt: MockAttempt,
    ticks: Mapping[int, Iterable[int]],
    now: dt.datetime | None = None,
) -> MockAttempt:
    """Store the learner's own rubric ticks after the end: {step id: [rubric point ids]}.

    Replaces the keyword pre-ticks of every free-text step of the attempt (a step missing
    from `ticks` means nothing ticked). Ids that are not rubric points of that step's item
    are ignored. Traps stay as detected: an instant rejection cannot be un-ticked.
    """
    locked = _lock(attempt)
    _expire_locked(locked, now_utc(now))
    if locked.ended_at is None:
        raise MockError("the review opens once the mock interview has ended")
    answers = locked.answers.select_related("step__item").prefetch_related("step__item__rubric")
    for answer in answers:
        item = answer.step.item
        if item is None or item.kind != Item.Kind.FREE_TEXT:
            continue
        valid = {point.pk for point in item.rubric.all()}
        chosen = sorted(valid & {int(pk) for pk in ticks.get(answer.step_id, ())})
        if chosen != sorted(answer.rubric_ticked or []):
            answer.rubric_ticked = chosen
            answer.save(update_fields=["rubric_ticked"])
    return locked


# --- interviewer mode: a peer scores the attempt through a secret link -------------------

INTERVIEWER_SCORES = ((1, "No"), (2, "Weak"), (3, "Good"), (4, "Strong"))


@transaction.atomic
def mock_interviewer_invite(*, attempt: MockAttempt) -> str:
    """Make (or replace) the secret of the peer-interviewer link of a running attempt; a
    new secret revokes the old link."""
    attempt = _lock(attempt)
    if attempt.ended_at is not None:
        raise MockClosed("this mock has ended: an interviewer can no longer be invited")
    attempt.interviewer_token = secrets.token_urlsafe(24)
    attempt.save(update_fields=["interviewer_token"])
    return attempt.interviewer_token


@transaction.atomic
def mock_interviewer_revoke(*, attempt: MockAttempt) -> None:
    MockAttempt.objects.filter(pk=attempt.pk).update(interviewer_token="")


@transaction.atomic
def mock_interviewer_score(
    *,
    attempt: MockAttempt,
    scores: Mapping[int, int | None],
    comments: Mapping[int, str],
    now: dt.datetime | None = None,
) -> None:
    """Store the peer's 1-4 score and comment per step (a step id of this script only)."""
    at = now_utc(now)
    steps = {step.pk: step for step in script_steps(attempt.script)}
    for step_id in set(scores) | set(comments):
        if step_id not in steps:
            raise MockError("that question is not part of this mock")
        score = scores.get(step_id)
        if score is not None and score not in dict(INTERVIEWER_SCORES):
            raise MockError("a score is 1 to 4")
        answer, _ = MockAnswer.objects.get_or_create(
            attempt=attempt, step=steps[step_id], defaults={"text": "", "saved_at": at}
        )
        answer.interviewer_score = score
        answer.interviewer_comment = comments.get(step_id, "")[:2000]
        answer.save(update_fields=["interviewer_score", "interviewer_comment"])
