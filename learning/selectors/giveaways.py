"""Within a sitting: a card whose answer another card just showed waits for later."""

from __future__ import annotations

from django.db.models import prefetch_related_objects

from learning.answers import format_number
from learning.selectors.queue import QueueEntry
from quizbank.models import Item


def _number_spellings(value: float) -> set[str]:
    """The ways a figure is usually written in an explanation (25,557,032; 25.6M; 25.6
    million; 4.09 billion), to find it in another card's answer."""
    spellings = {format_number(value), f"{value:g}"}
    for scale, words in ((1e9, ("B", " billion", "G")), (1e6, ("M", " million"))):
        if abs(value) >= scale:
            for digits in (2, 3):
                short = f"{value / scale:.{digits}g}"
                spellings |= {short + word for word in words}
    return {s for s in spellings if len(s.strip("0.,")) >= 2}


def _answer_side_text(item: Item) -> str:
    """Everything shown once a card is answered: explanation, model answer, every option
    with its reason, rubric points and traps."""
    pieces = [item.explanation, item.model_answer]
    for choice in item.choices.all():
        pieces += [choice.text, choice.why]
    pieces += [point.text for point in item.rubric.all()]
    for trap in item.traps or []:
        pieces += [str(trap.get("phrase", "")), str(trap.get("why", ""))]
    return " ".join(p for p in pieces if p).lower()


def _asked_answers(asked: Item) -> list[str]:
    """The strings whose presence in another card's answer gives `asked` away: its figure
    for a number card, a right option's text (long enough to mean something) for a
    multiple choice; nothing for the other kinds."""
    if asked.kind == Item.Kind.NUMERIC and asked.answer_number is not None:
        return [s.lower() for s in _number_spellings(asked.answer_number)]
    if asked.kind == Item.Kind.MULTIPLE_CHOICE:
        return [c.text.lower() for c in asked.choices.all() if c.correct and len(c.text) >= 12]
    return []


def item_gives_away(*, shown: Item, asked: Item) -> bool:
    """Whether the answer side of `shown` contains the answer `asked` expects."""
    if shown.pk == asked.pk:
        return False
    text = _answer_side_text(shown)
    return any(answer in text for answer in _asked_answers(asked))


def queue_without_giveaways(*, queue: list[QueueEntry], answered: list[Item]) -> list[QueueEntry]:
    """The same entries, those whose answer a card answered in this sitting has shown
    moved to the end (stable), so the next card is never one just given away."""
    if not answered:
        return queue
    # A multiple choice's right options are what it asks, and every option is on the
    # answer side of a card shown: one query for the options of all of them.
    asking = [e.item for e in queue if e.item.kind == Item.Kind.MULTIPLE_CHOICE]
    prefetch_related_objects([*answered, *asking], "choices")
    shown = [(a.pk, _answer_side_text(a)) for a in answered]
    given_ids = set()
    for entry in queue:
        answers = _asked_answers(entry.item)
        if any(pk != entry.item.pk and any(x in text for x in answers) for pk, text in shown):
            given_ids.add(id(entry))
    return [e for e in queue if id(e) not in given_ids] + [e for e in queue if id(e) in given_ids]
