"""Exports read back with the tools they are for: icalendar for .ics, sqlite for .apkg."""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
import zipfile

import pytest
from django.urls import reverse
from icalendar import Calendar

from learning import exports, services
from tests.learning.factories_learner import make_content, make_user

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 1, 20, 0, tzinfo=dt.UTC)  # 2 March in Tokyo


def test_plan_ics_has_five_all_day_events_on_the_local_checkpoint_dates():
    content = make_content()
    user = make_user(time_zone="Asia/Tokyo")
    plan = services.plan_start(user=user, chapter=content.chapter, now=T0)
    data = exports.plan_to_ics(plan=plan, base_url="https://prep.example/")
    cal = Calendar.from_ical(data)
    events = cal.walk("VEVENT")
    assert len(events) == 5
    start = dt.date(2026, 3, 2)
    assert [e.decoded("dtstart") for e in events] == [
        start + dt.timedelta(days=d) for d in (0, 3, 7, 14, 21)
    ]
    assert all(not isinstance(e.decoded("dtstart"), dt.datetime) for e in events)  # all-day
    assert [str(e["summary"]) for e in events] == [
        f"ResNet prep: Day {d}" for d in (0, 3, 7, 14, 21)
    ]
    description = str(events[0]["description"])
    assert (
        "Task d0-cards" in description
        and "Task d0-problem" in description
        and "Task d0-draw" in description
    )
    assert all("DTSTAMP" in e for e in events)
    # Stable: the same plan exports the same UIDs and bytes.
    assert exports.plan_to_ics(plan=plan, base_url="https://prep.example/") == data
    assert len({str(e["uid"]) for e in events}) == 5


def test_plan_ics_view_is_for_the_learners_own_plan(client):
    content = make_content()
    user = make_user()
    client.force_login(user)
    assert client.get(reverse("plan-ics")).status_code == 404  # no plan yet
    services.plan_start(user=user, chapter=content.chapter)
    response = client.get(reverse("plan-ics"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    assert len(Calendar.from_ical(response.content).walk("VEVENT")) == 5


def test_anki_deck_reads_back_with_notes_and_math(client):
    content = make_content()
    user = make_user()
    client.force_login(user)
    response = client.get(reverse("deck-apkg"))
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert "collection.anki2" in archive.namelist()
    db_bytes = archive.read("collection.anki2")
    with open_sqlite(db_bytes) as db:
        notes = db.execute("select flds, tags from notes").fetchall()
        models = json.loads(db.execute("select models from col").fetchone()[0])
    assert len(notes) == len(content.items)
    fronts = [flds.split("\x1f")[0] for flds, _ in notes]
    backs = [flds.split("\x1f")[1] for flds, _ in notes]
    assert any("25,557,032 parameters" in b for b in backs)
    ratio_front = next(f for f in fronts if "equal width" in f)
    assert "\\(C\\)" in ratio_front and "\\(1.0625 C^2\\)" in ratio_front and "$" not in ratio_front
    assert sum("cheat-sheet" in tags for _, tags in notes) == 2
    assert any(m["name"] == "ResNet prep (basic)" for m in models.values())


def test_anki_math_uses_mathjax_delimiters():
    assert exports.anki_math("a $x^2$ and $$y_1$$") == "a \\(x^2\\) and \\[y_1\\]"


class open_sqlite:
    def __init__(self, data: bytes):
        import tempfile

        self._tmp = tempfile.NamedTemporaryFile(suffix=".anki2")
        self._tmp.write(data)
        self._tmp.flush()

    def __enter__(self):
        self.db = sqlite3.connect(self._tmp.name)
        return self.db

    def __exit__(self, *exc):
        self.db.close()
        self._tmp.close()


def _deck_notes(content, user=None) -> dict[str, tuple[str, str]]:
    data = exports.deck_to_apkg(chapter=content.chapter, user=user)
    archive = zipfile.ZipFile(io.BytesIO(data))
    with open_sqlite(archive.read("collection.anki2")) as db:
        rows = db.execute("select flds from notes").fetchall()
    notes = {}
    for (flds,) in rows:
        front, back, _part = flds.split("\x1f")
        notes[front] = (front, back)
    return notes


def test_anki_ordering_steps_and_traps_carry_anki_math_not_dollars():
    """Ordering steps and trap lists were escaped as plain text, so their $...$ reached
    Anki, which does not render it."""
    content = make_content()
    step = content.items["ordering"].choices.first()
    step.text = "conv with $3 \\times 3$ kernels"
    step.save()
    free = content.items["free"]
    free.traps = [{"phrase": "$\\rho > 1$", "why": "the gain is $\\sqrt{2}$"}]
    free.save()
    notes = _deck_notes(content).values()
    ordering_front, ordering_back = next(n for n in notes if "3 \\times 3" in n[0])
    assert "\\(3 \\times 3\\)" in ordering_front and "\\(3 \\times 3\\)" in ordering_back
    _, free_back = next(n for n in notes if "Traps:" in n[1])
    assert "\\(\\rho &gt; 1\\)" in free_back and "\\(\\sqrt{2}\\)" in free_back
    assert not any("$" in front + back for front, back in notes)


def test_anki_multiple_choice_answer_has_no_paragraph_inside_bold():
    content = make_content()
    notes = _deck_notes(content).values()
    _, back = next(n for n in notes if "harder to optimise" in n[1])
    assert "<b>The deeper net is harder to optimise</b>" in back
    assert "<b><p>" not in back and "<li><p>" not in back
    fronts = [front for front, _ in notes]
    assert not any("<li><p>" in f for f in fronts)


def test_plan_ics_uids_are_stable_per_learner_and_day_across_restarts():
    """A restart issued a new set of UIDs and left the old ones: importing both gave two
    "Day N" per day. Now the same UIDs move to the new dates (a higher SEQUENCE) and the
    UIDs of the older exports come back cancelled."""
    content = make_content()
    user = make_user(time_zone="Asia/Tokyo")
    first = services.plan_start(user=user, chapter=content.chapter, now=T0)
    first_events = Calendar.from_ical(exports.plan_to_ics(plan=first)).walk("VEVENT")
    second = services.plan_start(user=user, chapter=content.chapter, now=T0 + dt.timedelta(days=2))
    cal = Calendar.from_ical(exports.plan_to_ics(plan=second))
    live = [e for e in cal.walk("VEVENT") if str(e.get("status", "")) != "CANCELLED"]
    cancelled = [e for e in cal.walk("VEVENT") if str(e.get("status", "")) == "CANCELLED"]
    assert [str(e["uid"]) for e in live] == [str(e["uid"]) for e in first_events]
    assert all(
        int(e["sequence"]) > int(f["sequence"]) for e, f in zip(live, first_events, strict=True)
    )
    assert live[0].decoded("dtstart") == dt.date(2026, 3, 4)
    assert {str(e["uid"]) for e in cancelled} == {
        f"plan-{first.pk}-day-{d}@resnet-prep" for d in (0, 3, 7, 14, 21)
    }
    other = make_user("bob", time_zone="Asia/Tokyo")
    theirs = services.plan_start(user=other, chapter=content.chapter, now=T0)
    their_uids = {
        str(e["uid"]) for e in Calendar.from_ical(exports.plan_to_ics(plan=theirs)).walk("VEVENT")
    }
    assert not their_uids & {str(e["uid"]) for e in live}


def test_plan_ics_descriptions_name_each_task_kind_once():
    content = make_content()
    plan = services.plan_start(user=make_user(), chapter=content.chapter, now=T0)
    text = exports.plan_to_ics(plan=plan).decode()
    assert "(done by hand (confirm))" not in text and "(confirm))" not in text
    description = str(
        Calendar.from_ical(exports.plan_to_ics(plan=plan)).walk("VEVENT")[0]["description"]
    )
    assert "Task d0-draw (tick it on the plan page when done)" in description
