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


# What a task is, in the event's text ("done by hand (confirm)" read badly in a calendar).
TASK_KIND_WORDS = {
    ReviewTask.Kind.ITEMS: "review cards",
    ReviewTask.Kind.PROBLEM: "practice problem",
    ReviewTask.Kind.EXERCISE: "implementation exercise",
    ReviewTask.Kind.MOCK: "mock interview",
    ReviewTask.Kind.MANUAL: "tick it on the plan page when done",
}


def plan_event_uid(*, plan: LearnerPlan, day: int) -> str:
    """One UID per learner, chapter and plan day, whatever the restart: importing the
    calendar after a restart moves the same "Day N" events instead of adding a second set."""
    return f"learner-{plan.user_id}-{plan.chapter.slug}-day-{day}@resnet-prep"


def _legacy_uid(plan_id: int, day: int) -> str:
    """The UID earlier exports gave (one set per plan run); they are sent cancelled."""
    return f"plan-{plan_id}-day-{day}@resnet-prep"


def plan_to_ics(*, plan: LearnerPlan, base_url: str = "") -> bytes:
    """One all-day event per checkpoint, on the plan's local dates, listing its tasks.

    UIDs are stable per learner and day (see `plan_event_uid`); SEQUENCE counts the plan's
    restarts so that calendar apps take the new dates over the old. Events of earlier runs
    exported under the old per-plan UIDs are included as cancelled. DTSTAMP is the plan's
    start, so the same plan always exports the same bytes.
    """
    cal = Calendar()
    cal.add("prodid", "-//resnet-prep//review plan//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", "ResNet prep: review plan")
    stamp = plan.started_at.astimezone(dt.UTC)
    earlier = list(
        LearnerPlan.objects.filter(
            user_id=plan.user_id, chapter=plan.chapter, started_at__lt=plan.started_at
        )
        .order_by("started_at")
        .values_list("pk", flat=True)
    )
    days = ReviewDay.objects.filter(chapter=plan.chapter, retired=False).prefetch_related("tasks")
    for review_day in days:
        checkpoint = scheduling.checkpoint_for(
            started_on=plan.started_on, day=review_day.day, time_zone=plan.time_zone
        )
        tasks = [t for t in review_day.tasks.all() if not t.retired]
        lines = [f"Day {review_day.day}: {review_day.title}", ""]
        lines += [f"- {t.title} ({TASK_KIND_WORDS[ReviewTask.Kind(t.kind)]})" for t in tasks]
        if base_url:
            lines += ["", f"Open the plan: {base_url.rstrip('/')}/plan/"]
        event = Event()
        event.add("uid", plan_event_uid(plan=plan, day=review_day.day))
        event.add("sequence", len(earlier))
        event.add("dtstamp", stamp)
        event.add("dtstart", checkpoint.date)
        event.add("dtend", checkpoint.date + dt.timedelta(days=1))
        event.add("summary", f"ResNet prep: Day {review_day.day}")
        event.add("description", "\n".join(lines))
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
        for old_plan in earlier:
            cancelled = Event()
            cancelled.add("uid", _legacy_uid(old_plan, review_day.day))
            cancelled.add("sequence", 1)
            cancelled.add("dtstamp", stamp)
            cancelled.add("dtstart", checkpoint.date)
            cancelled.add("summary", f"ResNet prep: Day {review_day.day} (cancelled: restarted)")
            cancelled.add("status", "CANCELLED")
            cancelled.add("transp", "TRANSPARENT")
            cal.add_component(cancelled)
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


def _inline_html(text: str) -> str:
    """Markdown for a phrase inside <b> or <li>: without the paragraph markdown wraps it
    in (a <p> inside <b> inside <p> is invalid HTML, and Anki's editor mangles it)."""
    rendered = _html(text).strip()
    match = re.fullmatch(r"<p>(.*)</p>", rendered, flags=re.DOTALL)
    if match and "<p>" not in match.group(1):
        return match.group(1)
    return rendered


def _plain(text: str) -> str:
    """Plain text with its math in Anki's delimiters, escaped for HTML."""
    return html.escape(anki_math(str(text)), quote=False)


def _back(item: Item) -> str:
    parts = []
    if item.kind == Item.Kind.MULTIPLE_CHOICE:
        right = [c for c in item.choices.all() if c.correct]
        parts.append("".join(f"<p><b>{_inline_html(c.text)}</b></p>" for c in right))
    elif item.kind == Item.Kind.NUMERIC:
        parts.append(f"<p><b>{_plain(expected_text(item))}</b></p>")
    elif item.kind == Item.Kind.ORDERING:
        steps = "".join(f"<li>{_plain(c.text)}</li>" for c in item.choices.all())
        parts.append(f"<ol>{steps}</ol>")
    else:
        parts.append(_html(item.model_answer))
        points = "".join(f"<li>{_inline_html(p.text)}</li>" for p in item.rubric.all())
        if points:
            parts.append(f"<p class='muted'>Points to cover:</p><ul>{points}</ul>")
        traps = "".join(
            f"<li>{_plain(t.get('phrase', ''))}: {_plain(t.get('why', ''))}</li>"
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
        front += "<ul>" + "".join(f"<li>{_inline_html(c.text)}</li>" for c in options) + "</ul>"
    elif item.kind == Item.Kind.ORDERING:
        # The same fixed shuffle for everyone: the deck is not per learner.
        from learning.answers import ordering_shuffled

        steps = ordering_shuffled(item=item, seed="anki")
        front += "<ul>" + "".join(f"<li>{_plain(c.text)}</li>" for c in steps) + "</ul>"
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
