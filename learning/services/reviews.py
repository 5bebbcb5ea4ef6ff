"""Writes of the reviews: an answer logged (moving the learner's FSRS card unless it is
uncounted practice), and the re-rating of the latest answer."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from fsrs import Rating

from learning import scheduling
from learning.answers import Checked
from learning.models import LearnerCard, ReviewLogEntry
from learning.selectors.plan import PlanState
from learning.services.common import _now
from learning.services.plan import _tick_item_tasks
from quizbank.models import Item


class StaleAnswer(ValueError):
    """An answer given to a card whose state has moved since the page showed it (Back then
    Forward, a second tab): it is refused, nothing is logged and the card is not moved."""


def card_version(card_row: LearnerCard | None) -> int:
    """The card's state version: the number of reviews that moved it (0 before the first).
    Every answer form carries it; an answer that carries an older one is stale."""
    return card_row.reps if card_row is not None else 0


def _card_apply(
    card_row: LearnerCard | None,
    *,
    user: AbstractBaseUser,
    item: Item,
    rating: Rating,
    at: dt.datetime,
    duration_ms: int | None,
) -> tuple[LearnerCard, dict | None]:
    before_state = card_row.state if card_row else None
    before = scheduling.card_load(card_row.state) if card_row else scheduling.card_new(now=at)
    after, _log = scheduling.card_review(
        card=before, rating=rating, now=at, duration_ms=duration_ms
    )
    lapse = scheduling.is_lapse(before=before, rating=rating)
    if card_row is None:
        card_row = LearnerCard(user=user, item=item, created_at=at, reps=0, lapses=0)
    card_row.state = after.to_dict()
    card_row.due = after.due
    card_row.reps += 1
    card_row.lapses += int(lapse)
    card_row.updated_at = at
    card_row.save()
    return card_row, before_state


@transaction.atomic
def review_record(
    *,
    user: AbstractBaseUser,
    item: Item,
    checked: Checked,
    source: str,
    count_toward_schedule: bool = False,
    duration_ms: int | None = None,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
    plan_state: PlanState | None = None,
) -> ReviewLogEntry:
    """Log an answer. Plan and due reviews move the learner's FSRS card; practice moves it
    only when the learner asked (`count_toward_schedule`).

    `expected_version` is the card version the answered page showed; when the answer would
    move the card and the card has moved since, StaleAnswer is raised and nothing changes.
    (Two first answers racing for a card that has no row yet meet the unique constraint:
    the loser's IntegrityError is the same refusal, reported by the caller.)

    `plan_state` is the plan as the page read it before this answer: the plan's ticks
    are then decided from it (see _tick_item_tasks), and it is updated with this review.
    The entry carries the card row as it is now (`card_row`; None when not counted)."""
    at = _now(now)
    if source not in ReviewLogEntry.Source.values:
        raise ValueError(f"unknown review source {source!r}")
    counted = source != ReviewLogEntry.Source.PRACTICE or count_toward_schedule
    before_state = None
    card_row = None
    if counted:
        card_row = LearnerCard.objects.select_for_update().filter(user=user, item=item).first()
        if expected_version is not None and card_version(card_row) != expected_version:
            raise StaleAnswer("already answered")
        card_row, before_state = _card_apply(
            card_row, user=user, item=item, rating=checked.rating, at=at, duration_ms=duration_ms
        )
    entry = ReviewLogEntry.objects.create(
        user=user,
        item=item,
        rating=int(checked.rating),
        reviewed_at=at,
        duration_ms=duration_ms if duration_ms is None else max(0, int(duration_ms)),
        source=source,
        counted=counted,
        correct=checked.correct,
        answer=checked.answer,
        card_before=before_state,
    )
    _tick_item_tasks(user, item, at, plan_state)
    entry.card_row = card_row
    return entry


@transaction.atomic
def review_rerate(*, entry: ReviewLogEntry, rating: Rating) -> ReviewLogEntry:
    """Change the rating of the learner's latest review of a card (the 1-4 keys after the
    feedback), replaying FSRS from the state before that review at the same time."""
    later = ReviewLogEntry.objects.filter(
        user_id=entry.user_id,
        item_id=entry.item_id,
        counted=True,
        reviewed_at__gt=entry.reviewed_at,
    ).exists()
    if later:
        raise ValueError("only the latest review of a card can be re-rated")
    if entry.counted:
        card_row = LearnerCard.objects.select_for_update().get(
            user_id=entry.user_id, item_id=entry.item_id
        )
        before = (
            scheduling.card_load(entry.card_before)
            if entry.card_before
            else scheduling.card_new(now=entry.reviewed_at)
        )
        after, _ = scheduling.card_review(
            card=before, rating=rating, now=entry.reviewed_at, duration_ms=entry.duration_ms
        )
        old_lapse = scheduling.is_lapse(before=before, rating=Rating(entry.rating))
        new_lapse = scheduling.is_lapse(before=before, rating=rating)
        card_row.state = after.to_dict()
        card_row.due = after.due
        card_row.lapses = max(0, card_row.lapses - int(old_lapse) + int(new_lapse))
        card_row.save(update_fields=["state", "due", "lapses"])
    entry.rating = int(rating)
    entry.save(update_fields=["rating"])
    return entry
