"""Writes of the quiz bank app. Keyword-only, typed; views and commands call these."""

from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from quizbank.models import LearnerProfile


def profile_get_or_create(*, user: AbstractBaseUser) -> LearnerProfile:
    profile, _ = LearnerProfile.objects.get_or_create(user=user)
    return profile


@transaction.atomic
def profile_set_time_zone(*, user: AbstractBaseUser, time_zone: str) -> LearnerProfile:
    if time_zone not in zoneinfo.available_timezones():
        raise ValueError(f"unknown time zone {time_zone!r}")
    profile = profile_get_or_create(user=user)
    profile.time_zone = time_zone
    profile.save(update_fields=["time_zone"])
    return profile
