"""Checking a learner's answer and turning it into an FSRS rating.

Pure functions over content rows: nothing here writes to the database. The services call
them, then log the review and move the FSRS card.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum

from fsrs import Rating

from quizbank.matching import keyword_found, normalise, trap_asserted
from quizbank.models import Item
from quizbank.numbers import NumberFormatError, read_number, to_base, unit_of, within

__all__ = ["NumberFormatError", "parse_number"]


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


# "25,557,032 multiply-adds" is 24; this bounds the digits int() and float() are given.
MAX_NUMBER_CHARS = 60


def parse_number(text: str, *, percent_unit: bool = False) -> float:
    """Read a number the way people write it: "25.6M", "25,557,032", "2.56e7", "5.9%",
    "1.5k", "2.56 x 10^7", "25.6 million", "28,54" (see `quizbank.numbers`).

    "%" divides by 100 unless the expected unit is itself a percentage (`percent_unit`),
    where "5.9%" and "5.9" mean the same. Raises `NumberFormatError` only.
    """
    if len(text) > 4 * MAX_NUMBER_CHARS:  # bounded before any parsing (issue 16)
        raise NumberFormatError(f"a number is at most {MAX_NUMBER_CHARS} characters")
    reading = read_number(text)
    if reading.percent and not percent_unit:
        return reading.value / 100
    return reading.value


def format_number(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.6g}"


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
    # Set when the answer could not be read (an unreadable number, two steps at the same
    # place): the learner is asked to re-enter it, exactly like an empty answer. Nothing
    # is logged and no rating is given, so it can never count as wrong.
    reenter: bool = False


def _reenter(message: str) -> Checked:
    return Checked(correct=None, rating=Rating.Again, feedback=message, reenter=True)


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
    """Compare in base units: "4.09G", "4.089e9" and a bare "4.089" (in the prompt's unit,
    billions) are one answer. Unreadable text asks for a re-entry, it is never wrong."""
    expected = expected_text(item)
    unit = unit_of(item.unit)
    try:
        reading = read_number(text)
    except NumberFormatError as exc:
        return _reenter(f"{str(exc).capitalize()}. Please type it again as digits, e.g. 25.6M.")
    given = to_base(reading, unit)
    correct = item.answer_number is not None and within(
        given=given,
        expected=item.answer_number * unit.scale,
        tolerance=(item.tolerance or 0.0)
        * (1.0 if item.tolerance_mode == Item.ToleranceMode.RELATIVE else unit.scale),
        relative=item.tolerance_mode == Item.ToleranceMode.RELATIVE,
    )
    shown = given / unit.scale
    verdict = "Correct" if correct else "Not quite"
    return Checked(
        correct=correct,
        rating=rating_for_auto(correct=correct, certainty=certainty),
        feedback=f"{verdict}: you gave {format_number(shown)}. Expected {expected}.",
        answer={"text": text, "value": shown, "certainty": str(certainty)},
    )


def ordering_shuffled(*, item: Item, seed: str) -> list:
    """The steps in a deterministic shuffle that is never the correct order (3+ steps)."""
    steps = list(item.choices.all())
    shuffled = steps[:]
    random.Random(f"{item.pk}:{seed}").shuffle(shuffled)
    if len(shuffled) > 1 and shuffled == steps:
        shuffled = shuffled[1:] + shuffled[:1]
    return shuffled


def accepted_step_orders(*, item: Item, steps: list) -> list[list[str]]:
    """The canonical order and the item's other defensible orders, as lists of step texts
    (texts, so that two identical steps may be given either way round)."""
    texts = [s.text for s in steps]
    orders = [texts]
    for order in item.accepted_orders or []:
        if sorted(order) == list(range(1, len(texts) + 1)):
            orders.append([texts[n - 1] for n in order])
    return orders


def check_ordering(*, item: Item, positions: dict[int, int], certainty: Certainty) -> Checked:
    """`positions` maps a step (Choice id) to the 1-based position the learner gave it.

    Steps are compared by text, so two identical steps ("BatchNorm" twice) may be given in
    either order. Positions must be 1..n, each once.
    """
    steps = list(item.choices.all())  # in correct order: Choice.order is the position
    given = sorted(positions.values())
    if given != list(range(1, len(steps) + 1)) or set(positions) != {s.pk for s in steps}:
        return _reenter(
            f"Give each step a different position from 1 to {len(steps)}, then submit again."
        )
    by_id = {s.pk: s for s in steps}
    placed = [by_id[pk].text for pk, _ in sorted(positions.items(), key=lambda kv: kv[1])]
    correct = placed in accepted_step_orders(item=item, steps=steps)
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

    Keywords match by word prefix; a trap is flagged only where the answer asserts it, not
    where it rules it out ("rules out overfitting"): see `quizbank.matching`.
    """
    text = normalise(answer)
    hints = []
    for point in item.rubric.all():
        matched = [k for k in point.keywords or [] if keyword_found(text, k)]
        hints.append(
            RubricHint(
                point_id=point.pk, text=point.text, likely_covered=bool(matched), matched=matched
            )
        )
    traps = []
    for index, trap in enumerate(item.traps or []):
        phrase = str(trap.get("phrase", ""))
        traps.append(
            TrapHint(
                index=index,
                phrase=phrase,
                why=str(trap.get("why", "")),
                likely_made=trap_asserted(text, phrase),
            )
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
