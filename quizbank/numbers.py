"""Reading a number the way people write it, and comparing it in base units.

A learner writes "4.09 billion", "4.09G", "4.089e9", "25.6M", "28.54%", "28,54" or
"25,557,032". This module turns that into a value in base units (multiply-adds,
parameters, a fraction for percentages) and compares it with the item's answer, also in
base units, so that "4.09G" and "4.089" (in the prompt's unit, billions) are the same
answer.

Bounded: the text is at most `MAX_CHARS` long and an exponent at most `MAX_EXPONENT` in
size, checked on the digits before any arithmetic, so "1x10^10000000" is refused at once
instead of building a ten-million-digit integer in the web process. Nothing here raises
anything but `NumberFormatError`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# Longer than any honest answer ("25,557,032 parameters" is 21 characters), short enough
# that every regular expression below runs in microseconds.
MAX_CHARS = 60
# float itself stops near 1e308; anything past 1e300 is a typo or an attack.
MAX_EXPONENT = 300

SCALES: dict[str, float] = {
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "mn": 1e6,
    "mio": 1e6,
    "million": 1e6,
    "millions": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "g": 1e9,
    "billion": 1e9,
    "billions": 1e9,
    "t": 1e12,
    "trillion": 1e12,
}


class NumberFormatError(ValueError):
    """The text is not a number this module can read; ask the learner to re-enter it."""


@dataclass(frozen=True)
class Reading:
    """A number as written: `value` has any scale word and exponent applied; `scaled` says
    whether one was written (then the value is in base units); `percent` whether it ended
    with "%" (the value is still the written one, 28.54 for "28.54%")."""

    value: float
    scaled: bool
    percent: bool


_EXPONENT = re.compile(r"^([+-]?\d+)$")
_POWER = re.compile(
    r"^(?P<mantissa>[^x*×·]+?)\s*(?:x|\*|×|·)\s*10\s*(?:\^|\*\*)\s*\{?(?P<exp>[+-]?\d+)\}?$",
    re.IGNORECASE,
)
_PLAIN = re.compile(
    r"^(?P<mantissa>[+-]?[\d.,_ ]*\d[\d.,_ ]*?)(?:e(?P<exp>[+-]?\d+))?\s*(?P<scale>[a-z]*)\s*(?P<pct>%?)$",
    re.IGNORECASE,
)
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?P<sep>[, _])\d{3}(?:(?P=sep)\d{3})*(?:\.\d*)?$")
_DECIMAL = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+$")


def _exponent(text: str, raw: str) -> int:
    digits = text.lstrip("+-")
    if len(digits) > 4 or int(text) > MAX_EXPONENT or int(text) < -MAX_EXPONENT:
        raise NumberFormatError(f"the exponent in {raw!r} is out of range")
    return int(text)


def _mantissa(text: str, raw: str) -> float:
    """Digits with thousands separators ("25,557,032", "25 557 032") or one decimal comma
    ("28,54"); "4,089" is read as four thousand and eighty-nine, as in English."""
    text = text.strip()
    if _THOUSANDS.match(text):
        return float(re.sub(r"[, _]", "", text))
    if _DECIMAL.match(text):
        return float(text)
    if _DECIMAL_COMMA.match(text):
        return float(text.replace(",", "."))
    raise NumberFormatError(f"could not read {raw!r} as a number")


def _drop_unit_words(text: str) -> str:
    """ "25557032 parameters" -> "25557032"; keeps a scale word ("4.09 billion")."""
    words = text.split(" ")
    while len(words) > 1 and re.fullmatch(r"[a-zA-Z][a-zA-Z\-]*", words[-1]):
        if words[-1].lower() in SCALES:
            break
        words.pop()
    return " ".join(words)


def read_number(text: str) -> Reading:
    raw = text
    s = text.strip()
    if not s:
        raise NumberFormatError("no number given")
    if len(s) > MAX_CHARS:
        raise NumberFormatError(f"that is too long for a number (over {MAX_CHARS} characters)")
    s = (
        s.replace("\u2212", "-")
        .replace("\u2009", " ")
        .replace("\u202f", " ")
        .replace("\u00a0", " ")
    )
    s = re.sub(r"\s+", " ", s)
    s = _drop_unit_words(s)
    power = _POWER.match(s)
    if power:
        value = _mantissa(power.group("mantissa"), raw) * 10.0 ** _exponent(power.group("exp"), raw)
        return _finite(Reading(value=value, scaled=True, percent=False), raw)
    plain = _PLAIN.match(s)
    if not plain:
        raise NumberFormatError(f"could not read {raw!r} as a number")
    value = _mantissa(plain.group("mantissa"), raw)
    scaled = False
    if plain.group("exp") is not None:
        value *= 10.0 ** _exponent(plain.group("exp"), raw)
        scaled = True
    scale = plain.group("scale").lower()
    if scale:
        if scale not in SCALES:
            raise NumberFormatError(f"unknown scale {plain.group('scale')!r} in {raw!r}")
        value *= SCALES[scale]
        scaled = True
    return _finite(Reading(value=value, scaled=scaled, percent=bool(plain.group("pct"))), raw)


def _finite(reading: Reading, raw: str) -> Reading:
    if not math.isfinite(reading.value):
        raise NumberFormatError(f"{raw!r} is not a finite number")
    return reading


# --- base units --------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """An item's unit split into a scale and a base unit: "billion multiply-adds" is
    1e9 x multiply-adds, "%" is 0.01 x a fraction, "parameters" is 1 x parameters."""

    scale: float
    base: str
    percent: bool


def unit_of(unit: str) -> Unit:
    words = (unit or "").strip().split(" ", 1)
    if unit.strip() == "%":
        return Unit(scale=0.01, base="", percent=True)
    if len(words) == 2 and words[0].lower() in SCALES:
        return Unit(scale=SCALES[words[0].lower()], base=words[1], percent=False)
    return Unit(scale=1.0, base=unit or "", percent=False)


def to_base(reading: Reading, unit: Unit) -> float:
    """The learner's number in base units.

    "%" always means hundredths. A number with a scale word or exponent is already in base
    units. A bare number is in the prompt's unit ("4.089" for billions, "28.54" for %),
    except a bare number too large for that reading ("4089000000" billions), which is
    taken as written in base units.
    """
    if reading.percent:
        return reading.value / 100
    if reading.scaled:
        return reading.value
    if unit.percent:
        return reading.value * unit.scale
    if unit.scale > 1 and abs(reading.value) >= unit.scale:
        return reading.value
    return reading.value * unit.scale


def within(*, given: float, expected: float, tolerance: float, relative: bool) -> bool:
    """Both values in base units; an absolute tolerance is in base units too. The slack
    of one part in 1e9 absorbs float rounding ("28.54%" is not exactly 0.2854)."""
    slack = 1e-9 * max(abs(expected), abs(given), 1e-300)
    if relative:
        return abs(given - expected) <= tolerance * abs(expected) + slack
    return abs(given - expected) <= tolerance + slack
