"""Rates on what one person may do per window, counted in Django's cache.

A fixed window per (scope, key): the first event of a window creates its counter, later
ones increment it. Over the limit, the caller is told how many seconds remain until the
window ends, which the page or the API's `Retry-After` passes on. With several web
processes the cache must be shared (CACHE_URL, e.g. Redis) for the limits to hold across
them; the per-process default still bounds each process.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

_UNITS = {
    **dict.fromkeys(("s", "second"), 1),
    **dict.fromkeys(("m", "minute"), 60),
    **dict.fromkeys(("h", "hour"), 3600),
    **dict.fromkeys(("d", "day"), 86400),
}


@dataclass(frozen=True)
class Rate:
    count: int
    window_s: int


class RateLimited(Exception):
    """Too many events in the window; `retry_after_s` says when the next one is allowed."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def rate_parse(text: str) -> Rate:
    """`"10/hour"`, `"5/m"` or `"3/30s"` to a Rate; raises ValueError on anything else."""
    count_text, _, per = text.strip().partition("/")
    digits = per.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = per[len(digits) :]
    if not count_text.isdigit() or unit not in _UNITS or (digits and not digits.isdigit()):
        raise ValueError(f"not a rate: {text!r} (write it as 10/hour, 5/minute or 3/30s)")
    return Rate(count=int(count_text), window_s=int(digits or 1) * _UNITS[unit])


def rate_hit(*, scope: str, key: str, rate: Rate | None = None, now: float | None = None) -> None:
    """Count one event of `scope` by `key`; raise RateLimited if it is over the rate.

    `rate` defaults to settings.RATE_LIMITS[scope]. A refused event is not counted.
    """
    rate = rate or rate_parse(settings.RATE_LIMITS[scope])
    now = time.time() if now is None else now
    window = int(now // rate.window_s)
    cache_key = f"rate:{scope}:{key}:{window}"
    retry_after = max(1, math.ceil((window + 1) * rate.window_s - now))
    used = cache.get(cache_key, 0)
    if used >= rate.count:
        raise RateLimited(
            f"Too many attempts: at most {rate.count} per {_window_words(rate.window_s)}. "
            f"Try again in {_wait_words(retry_after)}.",
            retry_after_s=retry_after,
        )
    if not cache.add(cache_key, 1, timeout=rate.window_s + 1):
        try:
            cache.incr(cache_key)
        except ValueError:  # expired between add and incr: this event starts a new count
            cache.add(cache_key, 1, timeout=rate.window_s + 1)


def _window_words(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            return unit if n == 1 else f"{n} {unit}s"
    return f"{seconds} seconds"


def _wait_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


def client_ip(request: object) -> str:
    """The address the request came from, as Django sees it (REMOTE_ADDR).

    Behind a proxy, the proxy must set REMOTE_ADDR (gunicorn's --forwarded-allow-ips);
    X-Forwarded-For is not read here, since any client can send it.
    """
    return getattr(request, "META", {}).get("REMOTE_ADDR", "") or "unknown"
