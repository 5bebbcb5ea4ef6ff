"""Reads for accounts."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from accounts.models import LearnerProfile


def learner_time_zone(*, user: AbstractBaseUser) -> str:
    """The zone the learner set in their settings; times are stored in UTC, shown in this."""
    zone = LearnerProfile.objects.filter(user=user).values_list("time_zone", flat=True).first()
    return zone or "UTC"
