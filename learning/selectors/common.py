"""What every learner page reads first: the chapter, the learner's zone and local date."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from accounts.services import profile_get_or_create
from learning import scheduling
from quizbank.models import Chapter


def _now(now: dt.datetime | None) -> dt.datetime:
    return (now or timezone.now()).astimezone(dt.UTC)


def chapter_current() -> Chapter | None:
    """The chapter learners study (the product has one; the first live one by slug)."""
    return Chapter.objects.filter(retired=False).order_by("slug").first()


def time_zone_of(user: AbstractBaseUser) -> str:
    return profile_get_or_create(user=user).time_zone


def learner_today(
    *, user: AbstractBaseUser, now: dt.datetime | None = None, time_zone: str | None = None
) -> dt.date:
    """The learner's local date; pass `time_zone` when the page already read it."""
    return scheduling.local_date(at=_now(now), time_zone=time_zone or time_zone_of(user))
