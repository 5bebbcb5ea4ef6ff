"""What the learning services share: the clock they are given."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def _now(now: dt.datetime | None) -> dt.datetime:
    value = now or timezone.now()
    if value.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return value.astimezone(dt.UTC)
