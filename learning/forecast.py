"""The review forecast: how many FSRS cards fall due on each of the learner's next days.

Anki's "Future due" graph, from the cards' `due` instants read in the learner's own time
zone: a card due at 23:30 in Tokyo is due on that Tokyo day, whatever UTC says. Cards
already overdue are counted on today, as they are what the learner meets when they open
the due page today.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from accounts.services import profile_get_or_create
from learning import scheduling
from learning.models import LearnerCard
from quizbank.models import Chapter

FORECAST_DAYS = 21


@dataclass(frozen=True)
class Forecast:
    days: list[dt.date]  # today first
    due: list[int]  # cards due that local day (today: including every overdue card)
    overdue: int  # of today's count, cards whose due day has already passed

    def as_chart(self) -> dict:
        return {
            "labels": [day.isoformat() for day in self.days],
            "due": self.due,
            "overdue": self.overdue,
        }

    @property
    def rows(self) -> list[tuple[dt.date, int]]:
        return list(zip(self.days, self.due, strict=True))

    @property
    def total(self) -> int:
        return sum(self.due)


def due_per_day(
    *,
    user: AbstractBaseUser,
    chapter: Chapter,
    now: dt.datetime | None = None,
    days: int = FORECAST_DAYS,
    time_zone: str | None = None,
) -> Forecast:
    """Cards due on each of the `days` local days starting today (one query; one more
    for the learner's zone when the caller has not read it already)."""
    time_zone = time_zone or profile_get_or_create(user=user).time_zone
    at = (now or timezone.now()).astimezone(dt.UTC)
    today = scheduling.local_date(at=at, time_zone=time_zone)
    window = [today + dt.timedelta(days=n) for n in range(days)]
    end = scheduling.local_midnight_utc(day=today + dt.timedelta(days=days), time_zone=time_zone)
    counts = dict.fromkeys(window, 0)
    overdue = 0
    for due in LearnerCard.objects.filter(
        user=user, item__chapter=chapter, item__retired=False, due__lt=end
    ).values_list("due", flat=True):
        day = scheduling.local_date(at=due, time_zone=time_zone)
        if day < today:
            overdue += 1
            day = today
        counts[day] += 1
    return Forecast(days=window, due=[counts[day] for day in window], overdue=overdue)
