"""The server's clock for mock interviews: what `now` is, and the grace after a deadline.

`deadline` is fixed by `mock_start` and nothing else moves it. Every service and selector
takes `now` so that tests can move the clock without patching time.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

# An autosave sent a moment before the deadline arrives a moment after it; the browser
# also sends one last save when its countdown reaches zero. Two seconds covers a slow
# round trip without letting anyone keep writing after the clock.
GRACE = dt.timedelta(seconds=2)


def now_utc(now: dt.datetime | None) -> dt.datetime:
    """`now` (or the current time) in UTC; a naive datetime is refused."""
    value = now or timezone.now()
    if value.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return value.astimezone(dt.UTC)
