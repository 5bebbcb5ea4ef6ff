"""The dashboard's figures: the streak, reviews and retention per day, mastery per part."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q

from learning import scheduling
from learning.models import ReviewLogEntry
from learning.selectors.common import learner_today, time_zone_of
from quizbank.models import Chapter, Part


def reviews_local_days(
    *, user: AbstractBaseUser, time_zone: str | None = None
) -> dict[dt.date, list[int]]:
    """Local date -> the ratings given that day (one query; the streak and the series
    both read it, so a page reads it once and passes it on)."""
    tz = time_zone or time_zone_of(user)
    days: dict[dt.date, list[int]] = defaultdict(list)
    rows = ReviewLogEntry.objects.filter(user=user).order_by().values_list("reviewed_at", "rating")
    for reviewed_at, rating in rows:
        days[scheduling.local_date(at=reviewed_at, time_zone=tz)].append(rating)
    return days


def streak(
    *,
    user: AbstractBaseUser,
    now: dt.datetime | None = None,
    days: dict[dt.date, list[int]] | None = None,
    time_zone: str | None = None,
) -> int:
    tz = time_zone or time_zone_of(user)
    if days is None:
        days = reviews_local_days(user=user, time_zone=tz)
    today = learner_today(user=user, now=now, time_zone=tz)
    return scheduling.streak_days(review_days=set(days), today=today)


def review_series(
    *,
    user: AbstractBaseUser,
    days: int = 30,
    now: dt.datetime | None = None,
    by_day: dict[dt.date, list[int]] | None = None,
    time_zone: str | None = None,
) -> dict:
    """Per local day over the last `days` days: reviews done, and retention (share of
    reviews not rated Again; None on a day without reviews)."""
    tz = time_zone or time_zone_of(user)
    today = learner_today(user=user, now=now, time_zone=tz)
    if by_day is None:
        by_day = reviews_local_days(user=user, time_zone=tz)
    labels, counts, retention = [], [], []
    for offset in range(days - 1, -1, -1):
        day = today - dt.timedelta(days=offset)
        ratings = by_day.get(day, [])
        labels.append(day.isoformat())
        counts.append(len(ratings))
        retention.append(
            round(100 * sum(1 for r in ratings if r != 1) / len(ratings), 1) if ratings else None
        )
    return {"labels": labels, "reviews": counts, "retention": retention}


@dataclass
class PartMastery:
    part: Part
    items: int
    mastered: int

    @property
    def percent(self) -> int:
        return round(100 * self.mastered / self.items) if self.items else 0


def mastery_by_part(*, user: AbstractBaseUser, chapter: Chapter) -> list[PartMastery]:
    """Share of each part's items whose latest review was rated Good or Easy. Two queries:
    the parts with their item counts, and the learner's reviews of live items in order."""
    latest: dict[int, tuple[int, int]] = {}
    for item_id, part_id, rating in (
        ReviewLogEntry.objects.filter(user=user, item__chapter=chapter, item__retired=False)
        .order_by("reviewed_at", "pk")
        .values_list("item_id", "item__part_id", "rating")
    ):
        latest[item_id] = (part_id, rating)
    mastered: dict[int, int] = defaultdict(int)
    for part_id, rating in latest.values():
        if rating >= ReviewLogEntry.Rating.GOOD:
            mastered[part_id] += 1
    parts = Part.objects.filter(chapter=chapter, retired=False).annotate(
        live_items=Count("items", filter=Q(items__retired=False))
    )
    return [
        PartMastery(part=part, items=part.live_items, mastered=mastered[part.pk]) for part in parts
    ]
