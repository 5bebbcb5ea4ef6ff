"""Every card of the real quiz bank renders, and its own right answer is accepted."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.urls import reverse

from learning import selectors
from learning.answers import format_number
from learning.models import ReviewLogEntry
from quizbank.models import Chapter, Item
from tests.learning.factories_learner import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def bank():
    from quizbank.content_source import chapter_folders
    from quizbank.loader import bank_load

    bank_load(folders=chapter_folders())
    return Chapter.objects.get(slug="resnet")


def test_every_real_card_renders_and_accepts_its_answer(client, bank):
    client.force_login(make_user())
    items = list(Item.objects.filter(chapter=bank, retired=False).select_related("part"))
    assert len(items) >= 50
    for item in items:
        index = selectors.practice_items(part=item.part).index(item)
        page = client.get(reverse("practice-part", args=[item.part.slug]) + f"?n={index}")
        assert page.status_code == 200
        assert f'action="{reverse("item-answer", args=[item.pk])}"' in page.content.decode(), (
            item.slug
        )
        data = {"source": "practice", "certainty": "sure", "part": item.part.slug, "index": index}
        if item.kind == Item.Kind.MULTIPLE_CHOICE:
            data["choice"] = [c.pk for c in item.choices.all() if c.correct]
        elif item.kind == Item.Kind.NUMERIC:
            data["number"] = format_number(item.answer_number) + ("%" if item.unit == "%" else "")
        elif item.kind == Item.Kind.ORDERING:
            data |= {f"pos-{c.pk}": n for n, c in enumerate(item.choices.all(), 1)}
        else:
            data["answer"] = item.model_answer
            reveal = client.post(reverse("item-answer", args=[item.pk]), data)
            assert reveal.status_code == 200 and 'name="point"' in reveal.content.decode()
            continue
        response = client.post(reverse("item-answer", args=[item.pk]), data)
        assert response.status_code == 200, item.slug
        entry = ReviewLogEntry.objects.filter(item=item).latest("pk")
        assert entry.correct is True, (item.slug, data)


def test_real_bank_exports(client, bank):
    from icalendar import Calendar

    from learning import services

    user = make_user()
    client.force_login(user)
    services.plan_start(user=user, chapter=bank)
    cal = Calendar.from_ical(client.get(reverse("plan-ics")).content)
    events = cal.walk("VEVENT")
    assert len(events) == 5
    assert all(str(e["description"]).count("\n- ") == 3 for e in events)
    deck = zipfile.ZipFile(io.BytesIO(client.get(reverse("deck-apkg")).content))
    assert "collection.anki2" in deck.namelist()


def test_real_bank_dashboard_and_plan_render(client, bank):
    from learning import services

    user = make_user()
    client.force_login(user)
    services.plan_start(user=user, chapter=bank)
    for name in ["home", "plan", "due", "skills-rate", "practice"]:
        assert client.get(reverse(name)).status_code == 200, name
    assert (
        len(client.get(reverse("home")).context["mastery"])
        == bank.parts.filter(retired=False).count()
    )


def test_the_real_deck_has_no_dollar_math_and_no_paragraph_in_bold(bank):
    """Anki renders \\( \\) and \\[ \\] only: no note of the real bank may keep a $...$,
    and no answer may nest <p> inside <b>."""
    import re
    import sqlite3
    import tempfile

    from learning import exports

    data = exports.deck_to_apkg(chapter=bank)
    with tempfile.NamedTemporaryFile(suffix=".anki2") as tmp:
        tmp.write(zipfile.ZipFile(io.BytesIO(data)).read("collection.anki2"))
        tmp.flush()
        db = sqlite3.connect(tmp.name)
        notes = [row[0] for row in db.execute("select flds from notes")]
        db.close()
    assert len(notes) >= 50
    with_dollars = [n.split("\x1f")[0][:60] for n in notes if re.search(r"\$[^$\s][^$]*\$", n)]
    assert with_dollars == []
    assert not any("<b><p>" in n or "<li><p>" in n for n in notes)
