"""The review loop as Anki users expect it: an answer carries the card's state version and
a stale one is refused; a card can be answered in the head and rated 1-4; counts agree;
the time spent is logged for every kind."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from learning import services
from learning.models import LearnerCard, ReviewLogEntry
from quizbank.grading_answers import Checked
from tests.learning.factories_learner import make_content, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def content():
    return make_content()


@pytest.fixture
def ada(client):
    user = make_user("ada")
    client.force_login(user)
    return user


def _post(client, item, data, *, htmx=False, source="due", shown_ms_ago=5000):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    shown_at = int(timezone.now().timestamp() * 1000) - shown_ms_ago
    return client.post(
        reverse("item-answer", args=[item.pk]),
        {"source": source, "shown_at": str(shown_at), **data},
        **headers,
    )


def _version_on_page(page: str) -> str:
    return re.search(r'name="version" value="(\d+)"', page).group(1)


# --- (1) idempotent reviews -------------------------------------------------------------


def test_every_answer_form_carries_the_cards_version(client, content, ada):
    services.plan_start(user=ada, chapter=content.chapter)
    assert _version_on_page(client.get(reverse("due")).content.decode()) == "0"
    item = content.items["mc"]
    services.review_record(
        user=ada, item=item, checked=Checked(correct=True, rating=3, feedback=""), source="due"
    )
    page = client.get(reverse("practice-part", args=["degradation"]) + "?n=0").content.decode()
    assert _version_on_page(page) == "1"


def test_a_stale_answer_is_refused_and_moves_to_the_next_card(client, content, ada):
    """Back then Forward shows an answered card; answering it again must neither log a
    second review nor move the card again."""
    services.plan_start(user=ada, chapter=content.chapter)
    item = content.items["mc"]
    right = item.choices.get(correct=True)
    first = _post(client, item, {"choice": right.pk, "version": "0"}, source="plan")
    assert first.status_code == 200 and "rating-given" in first.content.decode()
    card = LearnerCard.objects.get(user=ada, item=item)
    due_before, state_before = card.due, card.state

    again = _post(client, item, {"choice": right.pk, "version": "0"}, source="plan")
    assert again.status_code == 302 and again["Location"] == reverse("due")
    assert ReviewLogEntry.objects.filter(user=ada, item=item).count() == 1
    card.refresh_from_db()
    assert (card.due, card.state, card.reps) == (due_before, state_before, 1)
    page = client.get(again["Location"]).content.decode()
    assert "Already answered" in page
    assert content.items["mc"].prompt[:20] not in page  # the next card, not the same one

    with_htmx = _post(client, item, {"choice": right.pk, "version": "0"}, htmx=True)
    assert with_htmx["HX-Redirect"] == reverse("due")
    assert ReviewLogEntry.objects.filter(user=ada, item=item).count() == 1


def test_a_stale_free_text_answer_is_refused_after_its_reveal_step(client, content, ada):
    item = content.items["free"]
    services.review_record(
        user=ada, item=item, checked=Checked(correct=None, rating=3, feedback=""), source="due"
    )
    reveal = _post(client, item, {"answer": "not overfitting", "version": "0"})
    assert _version_on_page(reveal.content.decode()) == "0"  # the version of the first page
    rate = _post(client, item, {"step": "rate", "answer": "not overfitting", "version": "0"})
    assert rate.status_code == 302
    assert ReviewLogEntry.objects.filter(user=ada, item=item).count() == 1


def test_the_current_version_is_accepted_each_time(client, content, ada):
    item = content.items["mc"]
    right = item.choices.get(correct=True)
    for version in ["0", "1", "2"]:
        response = _post(client, item, {"choice": right.pk, "version": version})
        assert response.status_code == 200, version
    assert LearnerCard.objects.get(user=ada, item=item).reps == 3


def test_review_record_refuses_a_stale_version(content):
    user = make_user("bob")
    item = content.items["numeric"]
    checked = Checked(correct=True, rating=3, feedback="")
    services.review_record(user=user, item=item, checked=checked, source="due", expected_version=0)
    with pytest.raises(services.StaleAnswer):
        services.review_record(
            user=user, item=item, checked=checked, source="due", expected_version=0
        )
    assert ReviewLogEntry.objects.filter(user=user).count() == 1


def test_uncounted_practice_is_not_refused(client, content, ada):
    """Practice that leaves the schedule alone moves nothing, so it cannot be stale."""
    item = content.items["mc"]
    wrong = item.choices.filter(correct=False).first()
    data = {"choice": wrong.pk, "part": "degradation", "index": "0", "version": "0"}
    services.review_record(
        user=ada, item=item, checked=Checked(correct=True, rating=3, feedback=""), source="due"
    )
    assert _post(client, item, data, source="practice").status_code == 200
    assert ReviewLogEntry.objects.filter(user=ada, source="practice").count() == 1
