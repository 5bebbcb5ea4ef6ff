"""Bounded reading of numbers from requests, for every app's views.

`str.isdigit()` is true for "²" and for a 5000-digit string, and `int()` then raises
(or builds a number no column can hold): a 500. These accept only ASCII digits, at most
a dozen of them, so every value fits a 64-bit column. A value that is present but not a
number in range is a BadRequest, which Django answers with 400 and the message
(config.errors.bad_request).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.core.exceptions import BadRequest

MAX_DIGITS = 15  # 10**15 ms is year 33658; far below 2**63


def small_int(raw: object) -> int | None:
    """The non-negative integer `raw` spells in ASCII digits, or None for anything else."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not text or len(text) > MAX_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def small_ints(values: Iterable[object]) -> list[int]:
    """The values that are small integers (ticked checkboxes, chosen ids); others dropped."""
    return [n for n in (small_int(v) for v in values) if n is not None]


def int_param(
    params: Mapping[str, str], name: str, *, default: int, maximum: int, minimum: int = 0
) -> int:
    """`params[name]` as an int in [minimum, maximum]; `default` when absent or empty."""
    raw = params.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = small_int(raw)
    if value is None or not minimum <= value <= maximum:
        raise BadRequest(f"'{name}' must be a whole number from {minimum} to {maximum}.")
    return value
