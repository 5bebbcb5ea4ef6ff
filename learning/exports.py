"""Exports: the plan as iCalendar, the cards as an Anki deck."""

from __future__ import annotations

import datetime as dt
import html
import re
import tempfile
import zlib
from pathlib import Path

import genanki
from icalendar import Calendar, Event

from learning import scheduling
from learning.answers import expected_text
from learning.models import LearnerPlan
from learning.templatetags.learner_tags import render_markdown
from quizbank.models import Chapter, Item, ReviewDay, ReviewTask
from quizbank.shuffling import options_for

# --- iCalendar ---------------------------------------------------------------------------


def plan_to_ics(*, plan: LearnerPlan, base_url: str = "") -> bytes:
    """One all-day event per checkpoint, on the plan's local dates, listing its tasks.

    UIDs are derived from the plan and the day, so re-importing updates the same events;
    DTSTAMP is the plan's start, so the same plan always exports the same bytes.
    """
    cal = Calendar()
    cal.add("prodid", "-//resnet-prep//review plan//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", "ResNet prep: review plan")
    days = ReviewDay.objects.filter(chapter=plan.chapter, retired=False).prefetch_related("tasks")
    for review_day in days:
        checkpoint = scheduling.checkpoint_for(
            started_on=plan.started_on, day=review_day.day, time_zone=plan.time_zone
        )
        tasks = [t for t in review_day.tasks.all() if not t.retired]
        lines = [f"Day {review_day.day}: {review_day.title}", ""]
        lines += [f"- {t.title} ({ReviewTask.Kind(t.kind).label.lower()})" for t in tasks]
        if base_url:
            lines += ["", f"Open the plan: {base_url.rstrip('/')}/plan/"]
        event = Event()
        event.add("uid", f"plan-{plan.pk}-day-{review_day.day}@resnet-prep")
        event.add("dtstamp", plan.started_at.astimezone(dt.UTC))
        event.add("dtstart", checkpoint.date)
        event.add("dtend", checkpoint.date + dt.timedelta(days=1))
        event.add("summary", f"ResNet prep: Day {review_day.day}")
        event.add("description", "\n".join(lines))
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    return cal.to_ical()


# --- Anki --------------------------------------------------------------------------------


def _stable_id(name: str) -> int:
    """Anki wants fixed 31-bit-ish ids for a model and a deck; derive them from a name so
    that a re-import updates the same deck instead of making a copy."""
    return (1 << 30) + zlib.crc32(name.encode())


ANKI_CSS = """
.card { font-family: system-ui, sans-serif; font-size: 18px; text-align: left; color: #1d2330; }
.muted { color: #5b6475; font-size: 0.9em; }
pre { background: #f3f4f8; padding: 8px; overflow-x: auto; }
"""


def anki_model() -> genanki.Model:
    return genanki.Model(
        _stable_id("resnet-prep basic"),
        "ResNet prep (basic)",
        fields=[{"name": "Front"}, {"name": "Back"}, {"name": "Part"}],
        templates=[
            {
                "name": "Card 1",
                "qfmt": "{{Front}}",
                "afmt": '{{FrontSide}}<hr id="answer">{{Back}}<p class="muted">{{Part}}</p>',
            }
        ],
        css=ANKI_CSS,
    )


def anki_math(text: str) -> str:
    """Anki's MathJax reads \\( \\) and \\[ \\]; our content writes $...$ and $$...$$."""
    text = re.sub(r"\$\$(.+?)\$\$", lambda m: f"\\[{m.group(1)}\\]", text or "", flags=re.DOTALL)
    return re.sub(r"(?<![\\$])\$([^$\n]+?)\$", lambda m: f"\\({m.group(1)}\\)", text)


def _html(text: str) -> str:
    return render_markdown(anki_math(text))


def _back(item: Item) -> str:
    parts = []
    if item.kind == Item.Kind.MULTIPLE_CHOICE:
        right = [c for c in item.choices.all() if c.correct]
        parts.append("".join(f"<p><b>{_html(c.text)}</b></p>" for c in right))
    elif item.kind == Item.Kind.NUMERIC:
        parts.append(f"<p><b>{html.escape(expected_text(item))}</b></p>")
    elif item.kind == Item.Kind.ORDERING:
        steps = "".join(f"<li>{html.escape(c.text)}</li>" for c in item.choices.all())
        parts.append(f"<ol>{steps}</ol>")
    else:
        parts.append(_html(item.model_answer))
        points = "".join(f"<li>{_html(p.text)}</li>" for p in item.rubric.all())
        if points:
            parts.append(f"<p class='muted'>Points to cover:</p><ul>{points}</ul>")
        traps = "".join(
            f"<li>{html.escape(str(t.get('phrase', '')))}: {html.escape(str(t.get('why', '')))}</li>"
            for t in item.traps or []
        )
        if traps:
            parts.append(f"<p class='muted'>Traps:</p><ul>{traps}</ul>")
    if item.explanation:
        parts.append(_html(item.explanation))
    return "".join(parts)


def _front(item: Item, *, user=None) -> str:
    front = _html(item.prompt)
    if item.kind == Item.Kind.MULTIPLE_CHOICE:
        # The downloading learner's order, the same as on their cards.
        options = options_for(item=item, user=user)
        front += "<ul>" + "".join(f"<li>{_html(c.text)}</li>" for c in options) + "</ul>"
    elif item.kind == Item.Kind.ORDERING:
        # The same fixed shuffle for everyone: the deck is not per learner.
        from learning.answers import ordering_shuffled

        steps = ordering_shuffled(item=item, seed="anki")
        front += "<ul>" + "".join(f"<li>{html.escape(c.text)}</li>" for c in steps) + "</ul>"
    return front


def deck_to_apkg(*, chapter: Chapter, user=None) -> bytes:
    """The cheat-sheet questions and the quiz cards of the chapter as one Anki deck.

    Multiple-choice options come in `user`'s shuffled order (a fixed shuffle without one),
    never in the YAML order where the right option is often first."""
    model = anki_model()
    deck = genanki.Deck(
        _stable_id(f"resnet-prep deck {chapter.slug}"), f"ResNet prep::{chapter.title}"
    )
    items = (
        Item.objects.filter(chapter=chapter, retired=False)
        .select_related("part")
        .prefetch_related("choices", "rubric")
    )
    for item in items:
        tags = [f"part::{item.part.slug}", item.kind]
        if item.cheat_sheet:
            tags.append("cheat-sheet")
        deck.add_note(
            genanki.Note(
                model=model,
                fields=[_front(item, user=user), _back(item), html.escape(item.part.title)],
                guid=genanki.guid_for(chapter.slug, item.slug),
                tags=tags,
            )
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "deck.apkg"
        genanki.Package(deck).write_to_file(str(path))
        return path.read_bytes()
