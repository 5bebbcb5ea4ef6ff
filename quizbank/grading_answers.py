"""Checking a learner's answer and turning it into an FSRS rating.

Pure functions over content rows: nothing here writes to the database. The services call
them, then log the review and move the FSRS card.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from enum import StrEnum

from fsrs import Rating

from quizbank.models import Item


class Certainty(StrEnum):
    GUESS = "guess"
    UNSURE = "unsure"
    SURE = "sure"


CERTAINTY_LABELS = [
    (Certainty.GUESS, "I guessed"),
    (Certainty.UNSURE, "Unsure"),
    (Certainty.SURE, "Sure"),
]


def rating_for_auto(*, correct: bool, certainty: Certainty) -> Rating:
    """Map an auto-graded answer and the stated certainty to an FSRS rating.

    - wrong, whatever the certainty -> Again: the card was not recalled, it is a lapse.
    - correct and sure -> Easy: recalled without doubt, let the interval grow fastest.
    - correct but unsure -> Good: recalled, with the normal growth.
    - correct by a guess -> Hard: the answer came out but was not known; a short interval
      without counting a lapse (a lucky guess on a multiple choice is not memory).
    """
    if not correct:
        return Rating.Again
    return {
        Certainty.SURE: Rating.Easy,
        Certainty.UNSURE: Rating.Good,
        Certainty.GUESS: Rating.Hard,
    }[certainty]


def rating_for_free_text(
    *, covered: int, total: int, trap_made: bool, certainty: Certainty
) -> Rating:
    """Map a self-checked free-text answer to an FSRS rating.

    A trap answer (an instant rejection in an interview) is a lapse whatever else was said.
    Under half of the rubric is a lapse too: an interviewer would not accept it. All points
    covered is Easy when sure, Good otherwise; at least two thirds is Good when sure, Hard
    otherwise; anything from half up is Hard. A guess never rates above Hard.
    """
    if trap_made or total <= 0:
        return Rating.Again
    share = covered / total
    if share < 0.5:
        return Rating.Again
    if share >= 1.0:
        rating = Rating.Easy if certainty == Certainty.SURE else Rating.Good
    elif share >= 2 / 3:
        rating = Rating.Good if certainty == Certainty.SURE else Rating.Hard
    else:
        rating = Rating.Hard
    if certainty == Certainty.GUESS:
        rating = min(rating, Rating.Hard)
    return rating


def rating_for_self_score(score: int) -> Rating:
    """Self-assessment to FSRS rating: 1-2 Again, 3 Hard, 4 Good, 5 Easy."""
    if not 1 <= score <= 5:
        raise ValueError(f"a self-assessment score is 1 to 5, not {score}")
    return {1: Rating.Again, 2: Rating.Again, 3: Rating.Hard, 4: Rating.Good, 5: Rating.Easy}[score]


# --- numbers -----------------------------------------------------------------------------

_SUFFIXES = {
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "mn": 1e6,
    "million": 1e6,
    "millions": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "g": 1e9,
    "billion": 1e9,
    "t": 1e12,
    "trillion": 1e12,
}
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?"
_POWER = re.compile(
    rf"^({_NUMBER})\s*(?:x|\*|×|·)\s*10\s*(?:\^|\*\*)\s*\{{?([+-]?\d+)\}}?$", re.IGNORECASE
)
_PLAIN = re.compile(rf"^({_NUMBER})\s*([a-z]*)\s*(%?)$", re.IGNORECASE)


class NumberFormatError(ValueError):
    pass


# "25,557,032 multiply-adds" is 24; this bounds the digits int() and float() are given.
MAX_NUMBER_CHARS = 60


def parse_number(text: str, *, percent_unit: bool = False) -> float:
    """Read a number the way people write it: "25.6M", "25,557,032", "2.56e7", "5.9%",
    "1.5k", "2.56 x 10^7", "25.6 million".

    "%" divides by 100 unless the expected unit is itself a percentage (`percent_unit`),
    where "5.9%" and "5.9" mean the same. Commas, underscores and spaces between digit
    groups are thousands separators; a unit word after the number ("parameters") is ignored.
    """
    raw = text.strip()
    if not raw:
        raise NumberFormatError("no number given")
    if len(raw) > MAX_NUMBER_CHARS:
        raise NumberFormatError(f"a number is at most {MAX_NUMBER_CHARS} characters")
    s = raw.replace("\u2212", "-").replace("\u2009", "").replace("\u202f", "")
    s = re.sub(r"(?<=\d)[,_ ](?=\d{3}\b)", "", s)
    s = re.sub(r"(?<=\d)[,_ ](?=\d{3}[,_ ]?)", "", s)
    # Drop a trailing unit word such as "parameters" or "multiply-adds"; keep scale words.
    words = s.split()
    if len(words) > 1 and words[-1].lower() not in _SUFFIXES and not words[-1].startswith("%"):
        if re.fullmatch(r"[a-zA-Z][a-zA-Z\-]+", words[-1]):
            s = " ".join(words[:-1])
    power = _POWER.match(s)
    if power:
        try:
            value = float(power.group(1)) * 10.0 ** int(power.group(2))
        except OverflowError:
            raise NumberFormatError(f"{raw!r} is too large a number") from None
        if not math.isfinite(value):
            raise NumberFormatError(f"{raw!r} is not a finite number")
        return value
    plain = _PLAIN.match(s)
    if not plain:
        raise NumberFormatError(f"could not read {raw!r} as a number")
    value = float(plain.group(1))
    suffix = plain.group(2).lower()
    if suffix:
        if suffix not in _SUFFIXES:
            raise NumberFormatError(f"unknown scale {plain.group(2)!r} in {raw!r}")
        value *= _SUFFIXES[suffix]
    if plain.group(3) and not percent_unit:
        value /= 100
    if not math.isfinite(value):
        raise NumberFormatError(f"{raw!r} is not a finite number")
    return value


def format_number(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.6g}"


def numeric_within(*, given: float, expected: float, tolerance: float, mode: str) -> bool:
    tol = tolerance or 0.0
    if mode == Item.ToleranceMode.ABSOLUTE:
        return abs(given - expected) <= tol + 1e-12
    return abs(given - expected) <= tol * abs(expected) + 1e-12


def expected_text(item: Item) -> str:
    """What the feedback says was expected, with tolerance, unit and protocol."""
    value = format_number(item.answer_number) if item.answer_number is not None else "?"
    unit = f" {item.unit}" if item.unit and item.unit != "ratio" else ""
    if item.unit == "%":
        unit = "%"
    tol = ""
    if item.tolerance:
        if item.tolerance_mode == Item.ToleranceMode.RELATIVE:
            tol = f" (within {item.tolerance * 100:g}%)"
        else:
            tol = f" (within ±{format_number(item.tolerance)})"
    protocol = f"; {item.protocol}" if item.protocol else ""
    return f"{value}{unit}{tol}{protocol}"


# --- results -----------------------------------------------------------------------------


@dataclass
class Checked:
    """The outcome of checking one answer; `answer` is what gets logged."""

    correct: bool | None
    rating: Rating
    feedback: str
    answer: dict = field(default_factory=dict)


def check_multiple_choice(*, item: Item, chosen_ids: list[int], certainty: Certainty) -> Checked:
    choices = list(item.choices.all())
    right = {c.pk for c in choices if c.correct}
    chosen = {i for i in chosen_ids if i in {c.pk for c in choices}}
    correct = bool(chosen) and chosen == right
    rights = "; ".join(c.text for c in choices if c.correct)
    feedback = "Correct." if correct else f"Not quite. The answer: {rights}."
    return Checked(
        correct=correct,
        rating=rating_for_auto(correct=correct, certainty=certainty),
        feedback=feedback,
        answer={"chosen": sorted(chosen), "certainty": str(certainty)},
    )


def check_numeric(*, item: Item, text: str, certainty: Certainty) -> Checked:
    expected = expected_text(item)
    try:
        given = parse_number(text, percent_unit=item.unit == "%")
    except NumberFormatError as exc:
        return Checked(
            correct=False,
            rating=Rating.Again,
            feedback=f"{exc}. Expected {expected}.",
            answer={"text": text, "certainty": str(certainty)},
        )
    correct = item.answer_number is not None and numeric_within(
        given=given,
        expected=item.answer_number,
        tolerance=item.tolerance or 0.0,
        mode=item.tolerance_mode,
    )
    verdict = "Correct" if correct else "Not quite"
    return Checked(
        correct=correct,
        rating=rating_for_auto(correct=correct, certainty=certainty),
        feedback=f"{verdict}: you gave {format_number(given)}. Expected {expected}.",
        answer={"text": text, "value": given, "certainty": str(certainty)},
    )


def ordering_shuffled(*, item: Item, seed: str) -> list:
    """The steps in a deterministic shuffle that is never the correct order (3+ steps)."""
    steps = list(item.choices.all())
    shuffled = steps[:]
    random.Random(f"{item.pk}:{seed}").shuffle(shuffled)
    if len(shuffled) > 1 and shuffled == steps:
        shuffled = shuffled[1:] + shuffled[:1]
    return shuffled


def check_ordering(*, item: Item, positions: dict[int, int], certainty: Certainty) -> Checked:
    """`positions` maps a step (Choice id) to the 1-based position the learner gave it.

    Steps are compared by text, so two identical steps ("BatchNorm" twice) may be given in
    either order. Positions must be 1..n, each once.
    """
    steps = list(item.choices.all())  # in correct order: Choice.order is the position
    given = sorted(positions.values())
    correct = False
    if given == list(range(1, len(steps) + 1)) and set(positions) == {s.pk for s in steps}:
        by_id = {s.pk: s for s in steps}
        placed = [by_id[pk].text for pk, _ in sorted(positions.items(), key=lambda kv: kv[1])]
        correct = placed == [s.text for s in steps]
    order = " → ".join(step.text for step in steps)
    feedback = "Correct order." if correct else f"Not quite. The order is: {order}."
    return Checked(
        correct=correct,
        rating=rating_for_auto(correct=correct, certainty=certainty),
        feedback=feedback,
        answer={
            "positions": {str(k): v for k, v in positions.items()},
            "certainty": str(certainty),
        },
    )


# --- free text ---------------------------------------------------------------------------


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


def _contains(haystack: str, needle: str) -> bool:
    needle = _normalise(needle)
    if not needle:
        return False
    if re.fullmatch(r"[\w\- ]+", needle):
        return re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack) is not None
    return needle in haystack


_NEGATIONS = ("not ", "isn't ", "is not ", "no ", "rather than ", "n't ", "never ", "nor ")


@dataclass
class RubricHint:
    point_id: int
    text: str
    likely_covered: bool
    matched: list[str]


@dataclass
class TrapHint:
    index: int
    phrase: str
    why: str
    likely_made: bool


def free_text_hints(*, item: Item, answer: str) -> tuple[list[RubricHint], list[TrapHint]]:
    """Keyword pre-ticks for the rubric and likely traps; the learner confirms both.

    A trap phrase right after a negation ("not overfitting") is not flagged: saying what
    the answer is not is the right move.
    """
    text = _normalise(answer)
    hints = []
    for point in item.rubric.all():
        matched = [k for k in point.keywords or [] if _contains(text, k)]
        hints.append(
            RubricHint(
                point_id=point.pk, text=point.text, likely_covered=bool(matched), matched=matched
            )
        )
    traps = []
    for index, trap in enumerate(item.traps or []):
        phrase = _normalise(str(trap.get("phrase", "")))
        made = False
        for found in re.finditer(re.escape(phrase), text) if phrase else []:
            before = text[max(0, found.start() - 20) : found.start()]
            if not any(before.endswith(n) or f"{n}" in before[-12:] for n in _NEGATIONS):
                made = True
                break
        traps.append(
            TrapHint(index=index, phrase=phrase, why=str(trap.get("why", "")), likely_made=made)
        )
    return hints, traps


def check_free_text(
    *,
    item: Item,
    answer: str,
    ticked_point_ids: list[int],
    traps_made: list[int],
    certainty: Certainty,
) -> Checked:
    points = [p.pk for p in item.rubric.all()]
    covered = len(set(ticked_point_ids) & set(points))
    trap_made = bool(traps_made)
    rating = rating_for_free_text(
        covered=covered, total=len(points), trap_made=trap_made, certainty=certainty
    )
    feedback = f"You covered {covered} of {len(points)} points"
    feedback += (
        "; a trap answer was given, which an interviewer rejects at once." if trap_made else "."
    )
    return Checked(
        correct=None,
        rating=rating,
        feedback=feedback,
        answer={
            "text": answer,
            "ticked": sorted(set(ticked_point_ids) & set(points)),
            "traps": sorted(traps_made),
            "certainty": str(certainty),
        },
    )
