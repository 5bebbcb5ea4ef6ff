"""The review loop as Anki users expect it: an answer carries the card's state version and
a stale one is refused; a card can be answered in the head and rated 1-4; counts agree;
the time spent is logged for every kind."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from learning import selectors, services
from learning.answers import Checked
from learning.models import LearnerCard, ReviewLogEntry
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


# --- (2) answer in your head ------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("mc", "Harder to optimise"),
        ("numeric", "25,557,032"),
        ("ordering", "3x3 conv → BatchNorm → ReLU"),
        ("free", "Model answer"),
    ],
)
def test_any_card_shows_its_answer_without_typing(client, content, ada, key, expected):
    item = content.items[key]
    page = _post(client, item, {"mode": "show", "version": "0"}).content.decode()
    assert "The answer" in page and 'name="self_rating"' in page
    if key == "free":
        assert content.items["free"].model_answer[:20] in page
    else:
        assert expected.lower() in page.lower()
    assert not ReviewLogEntry.objects.exists()  # showing logs nothing


def test_a_self_rating_logs_that_rating_and_moves_the_card(client, content, ada):
    item = content.items["numeric"]
    shown = _post(client, item, {"mode": "show", "version": "0"}, shown_ms_ago=7000)
    shown_at = re.search(r'name="shown_at" value="(\d+)"', shown.content.decode()).group(1)
    response = client.post(
        reverse("item-answer", args=[item.pk]),
        {"source": "due", "mode": "self", "self_rating": "2", "version": "0", "shown_at": shown_at},
    )
    assert 'rating-given">Hard' in response.content.decode()
    entry = ReviewLogEntry.objects.get(user=ada, item=item)
    assert entry.rating == 2 and entry.counted and entry.answer == {"in_head": True}
    assert entry.correct is None
    assert entry.duration_ms >= 7000  # timed from the question, not from the reveal
    assert LearnerCard.objects.get(user=ada, item=item).reps == 1


def test_a_self_rating_outside_1_to_4_is_refused(client, content, ada):
    item = content.items["mc"]
    response = _post(client, item, {"mode": "self", "self_rating": "5", "version": "0"})
    assert response.status_code == 400 and "Rate it from 1 to 4" in response.content.decode()
    assert not ReviewLogEntry.objects.exists()


def test_typed_free_text_is_still_graded_when_revealed(client, content, ada):
    item = content.items["free"]
    page = _post(client, item, {"mode": "show", "answer": "Training error rises."}).content
    assert b"Tick the points you covered" in page and b'name="self_rating"' not in page


def test_skip_is_offered_on_practice_cards_only(client, content, ada):
    practice = client.get(reverse("practice-part", args=["degradation"]) + "?n=0").content
    assert b"data-skip" in practice
    assert reverse("practice-part", args=["degradation"]).encode() + b"?n=1" in practice
    services.plan_start(user=ada, chapter=content.chapter)
    assert b"data-skip" not in client.get(reverse("due")).content


def test_free_text_duration_covers_the_whole_card(client, content, ada):
    """The reveal step kept re-stamping the time shown, so free-text reviews logged only
    the seconds spent ticking the rubric."""
    item = content.items["free"]
    reveal = _post(client, item, {"answer": "not overfitting", "version": "0"}, shown_ms_ago=9000)
    page = reveal.content.decode()
    shown_at = re.search(r'name="shown_at" value="(\d+)"', page).group(1)
    client.post(
        reverse("item-answer", args=[item.pk]),
        {"source": "due", "step": "rate", "answer": "x", "version": "0", "shown_at": shown_at},
    )
    assert ReviewLogEntry.objects.get(user=ada, item=item).duration_ms >= 9000


# --- (4) counts agree -------------------------------------------------------------------


def test_the_header_count_is_updated_with_the_card(client, content, ada):
    """The card said "18 left" while the header still said 19: the htmx answer now also
    replaces the header's count (out of band) with the same figure."""
    services.plan_start(user=ada, chapter=content.chapter)
    item = content.items["mc"]
    right = item.choices.get(correct=True)
    page = _post(client, item, {"choice": right.pk, "version": "0"}, htmx=True, source="plan")
    html = page.content.decode()
    oob = re.search(r'<p class="queue-size" id="queue-size" hx-swap-oob="true"><strong>(\d+)', html)
    card = re.search(r'class="muted remaining">(\d+) left', html)
    assert oob and card and oob.group(1) == card.group(1) == "1"


def test_the_practice_heading_shows_the_parts_name(client, content, ada):
    """The card's part slug shadowed the Part, so the heading read the slug's str.title()."""
    page = client.get(reverse("practice-part", args=["degradation"]) + "?n=0").content.decode()
    assert "<h1>Practice: The degradation problem</h1>" in page
    assert "Degradation</h1>" not in page


# --- (6) landing page and favicon ---------------------------------------------------------


def test_a_logged_out_visitor_sees_what_the_product_is(client, content):
    response = client.get(reverse("home"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Prepare for interview questions on ResNet" in page
    assert reverse("signup") in page and reverse("login") in page
    assert "spaced" in page.lower() or "FSRS" in page
    assert 'rel="icon"' in page and "favicon.svg" in page


def test_a_logged_in_learner_still_gets_the_dashboard(client, content, ada):
    page = client.get(reverse("home")).content.decode()
    assert "Prepare for interview questions on ResNet" not in page


def test_the_favicon_is_served_from_our_own_static_files(client):
    from django.contrib.staticfiles import finders

    assert finders.find("favicon.svg")
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"].endswith("favicon.svg")
    assert "://" not in response["Location"]  # no CDN


# --- (4) no giveaway of the next card ----------------------------------------------------


def _giveaway_pair(content):
    """An MC whose explanation states ResNet-50's parameter count, and the numeric card
    that asks for it."""
    mc = content.items["mc"]
    mc.explanation = "Training error rises too. (ResNet-50, for scale, has 25.6M parameters.)"
    mc.save()
    return mc, content.items["numeric"]


def test_item_gives_away_finds_a_figure_or_a_right_option():
    content = make_content()
    mc, numeric = _giveaway_pair(content)
    assert selectors.item_gives_away(shown=mc, asked=numeric)
    assert not selectors.item_gives_away(shown=numeric, asked=mc)
    free = content.items["free"]
    free.model_answer = "The deeper net is harder to optimise: an optimisation problem."
    free.save()
    assert selectors.item_gives_away(shown=free, asked=mc)
    assert not selectors.item_gives_away(shown=content.items["ordering"], asked=mc)


def test_the_next_due_card_is_not_one_the_last_answer_gave_away(client, content, ada):
    mc, numeric = _giveaway_pair(content)
    # all three due now, the given-away one first in FSRS order
    for hours, key in [(3, "numeric"), (2, "mc"), (1, "ordering")]:
        services.review_record(
            user=ada,
            item=content.items[key],
            checked=Checked(correct=True, rating=1, feedback=""),
            source="due",
        )
        LearnerCard.objects.filter(user=ada, item=content.items[key]).update(
            due=timezone.now() - dt.timedelta(hours=hours)
        )
    order = [e.item.slug for e in selectors.due_queue(user=ada, chapter=content.chapter)]
    assert order == ["resnet50-params", "degradation-cause", "basic-block-order"]
    # answer the MC (its explanation states 25.6M) in this sitting
    right = mc.choices.get(correct=True)
    _post(client, mc, {"choice": right.pk, "version": "1"})
    page = client.get(reverse("due")).content.decode()
    assert numeric.prompt not in page  # deferred, not shown next
    assert content.items["ordering"].prompt in page
    assert "2</strong> cards left" in page  # deferred, not dropped
