"""FSRS and the Day 0-21 plan: the pure rules, no database writes.

The plan's checkpoints are fixed days counted from the learner's Day 0 in their own time
zone. FSRS (the `fsrs` package) schedules each card between and after them: a lapse comes
back within minutes, well before the next checkpoint, and after Day 21 FSRS alone decides.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from fsrs import Card, Rating, ReviewLog, Scheduler, State

UTC = dt.UTC

CHECKPOINT_DAYS = (0, 3, 7, 14, 21)
PLAN_LENGTH_DAYS = 21

# Fuzzing spreads the due dates of large decks so that reviews do not pile up on one day.
# A learner here has about a hundred cards and a fixed plan; a deterministic schedule is
# easier to explain on the page and to test ("due is what the scheduler computes").
SCHEDULER = Scheduler(enable_fuzzing=False)


def card_new(*, now: dt.datetime) -> Card:
    return Card(due=now)


def card_load(state: dict) -> Card:
    return Card.from_dict(state)


def card_review(
    *, card: Card, rating: Rating, now: dt.datetime, duration_ms: int | None = None
) -> tuple[Card, ReviewLog]:
    """Apply one review; returns (card, fsrs ReviewLog). `now` must be aware (UTC)."""
    if now.tzinfo is None:
        raise ValueError("review time must be timezone-aware")
    return SCHEDULER.review_card(
        card, rating, review_datetime=now.astimezone(UTC), review_duration=duration_ms
    )


def card_retrievability(*, card: Card, now: dt.datetime) -> float:
    return float(SCHEDULER.get_card_retrievability(card, current_datetime=now.astimezone(UTC)))


def is_lapse(*, before: Card, rating: Rating) -> bool:
    """A forgotten card that had graduated: FSRS moves it to relearning."""
    return rating == Rating.Again and before.state == State.Review


# --- local days --------------------------------------------------------------------------


def zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def local_date(*, at: dt.datetime, time_zone: str) -> dt.date:
    return at.astimezone(zone(time_zone)).date()


def local_midnight_utc(*, day: dt.date, time_zone: str) -> dt.datetime:
    """The UTC instant at which `day` begins in the zone (DST-safe through zoneinfo)."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone(time_zone)).astimezone(UTC)


@dataclass(frozen=True)
class Checkpoint:
    day: int
    date: dt.date
    starts_at: dt.datetime  # UTC instant of local midnight on `date`


def checkpoint_for(*, started_on: dt.date, day: int, time_zone: str) -> Checkpoint:
    date = started_on + dt.timedelta(days=day)
    return Checkpoint(
        day=day, date=date, starts_at=local_midnight_utc(day=date, time_zone=time_zone)
    )


def checkpoint_status(*, date: dt.date, today: dt.date, done: bool) -> str:
    """done / overdue (date passed, not done) / today / upcoming."""
    if done:
        return "done"
    if date < today:
        return "overdue"
    if date == today:
        return "today"
    return "upcoming"


def streak_days(*, review_days: set[dt.date], today: dt.date) -> int:
    """Consecutive local days with at least one review, ending today or yesterday."""
    day = today if today in review_days else today - dt.timedelta(days=1)
    count = 0
    while day in review_days:
        count += 1
        day -= dt.timedelta(days=1)
    return count
