"""Reads of mock interviews: time left, the review page's rows, the interviewer's link."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field

from django.db.models import Prefetch, QuerySet

from interviews.clock import GRACE, now_utc
from interviews.models import MockAnswer, MockAttempt
from quizbank.models import MockScript, MockStep, RubricPoint

# The peer-interviewer link outlives the end of the attempt by this much, so that the
# peer can finish scoring the last answers; then it stops working.
INTERVIEWER_GRACE = dt.timedelta(minutes=30)


def script_steps(script: MockScript) -> QuerySet[MockStep]:
    """The script's steps in order, with their item or exercise."""
    return script.steps.select_related("item", "exercise").order_by("order", "pk")


def mock_attempt_remaining(*, attempt: MockAttempt, now: dt.datetime | None = None) -> float | None:
    """Seconds left on the server's clock (never negative); None when untimed."""
    if attempt.deadline is None:
        return None
    if attempt.ended_at is not None:
        return 0.0
    return max(0.0, (attempt.deadline - now_utc(now)).total_seconds())


@dataclass
class RubricRow:
    point: RubricPoint
    ticked: bool


@dataclass
class TrapRow:
    phrase: str
    why: str


@dataclass
class ReviewRow:
    step: MockStep
    answer: MockAnswer
    rubric: list[RubricRow] = field(default_factory=list)
    traps: list[TrapRow] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return bool(self.answer.text.strip())


@dataclass
class ReviewSummary:
    rows: list[ReviewRow]
    answered: int
    questions: int
    points_covered: int
    points_total: int
    traps_hit: int


def _normalise_phrase(phrase: str) -> str:
    # as free_text_hints stores it: lower case, runs of whitespace as one space
    return " ".join(phrase.lower().split())


def mock_review_rows(*, attempt: MockAttempt) -> ReviewSummary:
    """Per question: the answer, the rubric with what is ticked, and the traps hit."""
    answers = {
        answer.step_id: answer
        for answer in attempt.answers.all()  # one row per step since mock_start
    }
    steps = script_steps(attempt.script).prefetch_related(
        Prefetch("item__rubric", queryset=RubricPoint.objects.order_by("order"))
    )
    rows = []
    for step in steps:
        answer = answers.get(step.pk) or MockAnswer(
            attempt=attempt, step=step, text="", saved_at=attempt.started_at
        )
        row = ReviewRow(step=step, answer=answer)
        if step.item is not None:
            ticked = set(answer.rubric_ticked or [])
            row.rubric = [RubricRow(point=p, ticked=p.pk in ticked) for p in step.item.rubric.all()]
            hit = set(answer.traps_hit or [])
            row.traps = [
                TrapRow(phrase=str(trap.get("phrase", "")), why=str(trap.get("why", "")))
                for trap in step.item.traps or []
                if _normalise_phrase(str(trap.get("phrase", ""))) in hit
            ]
        rows.append(row)
    return ReviewSummary(
        rows=rows,
        answered=sum(1 for row in rows if row.answered),
        questions=len(rows),
        points_covered=sum(1 for row in rows for r in row.rubric if r.ticked),
        points_total=sum(len(row.rubric) for row in rows),
        traps_hit=sum(len(row.traps) for row in rows),
    )


def mock_interviewer_attempt(*, token: str, now: dt.datetime | None = None) -> MockAttempt | None:
    """The attempt this link opens, or None: unknown or revoked secret, or an attempt that
    ended more than INTERVIEWER_GRACE ago (the link expires with its attempt)."""
    if not token or len(token) < 20:
        return None
    attempt = MockAttempt.objects.select_related("script").filter(interviewer_token=token).first()
    if attempt is None or not secrets.compare_digest(attempt.interviewer_token, token):
        return None
    at = now_utc(now)
    ended = attempt.ended_at
    if ended is None and attempt.deadline is not None and at > attempt.deadline + GRACE:
        ended = attempt.deadline
    if ended is not None and at > ended + INTERVIEWER_GRACE:
        return None
    return attempt
