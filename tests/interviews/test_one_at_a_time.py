"""One question at a time: the attempt page shows one question and a map of all of them,
keeps every answer in the form, and the Save button, the map and the start form keep the
layout; the list names each topic once; no mock title carries a duration that an untimed
or extended attempt would contradict."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from django.urls import reverse

from interviews import services as mock_services
from interviews.layout import layout_from
from interviews.models import MockAnswer, MockAttempt
from quizbank.models import MockStep
from tests.learning.factories_learner import make_content, make_user

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def content():
    content = make_content()
    for order, key in enumerate(("free", "mc", "numeric"), start=1):
        MockStep.objects.create(script=content.mock, order=order, item=content.items[key])
    return content


@pytest.fixture
def ada(client):
    user = make_user("ada")
    client.force_login(user)
    return user


def _sections(body: str) -> list[tuple[int, bool]]:
    """(question number, hidden) of each question section, in page order."""
    found = re.findall(
        r'<section class="card mock-step" id="step-\d+" data-q="(\d+)"( hidden)?>', body
    )
    return [(int(q), bool(hidden)) for q, hidden in found]


def test_layout_is_read_safely():
    assert layout_from({}, count=3) == layout_from({"view": "all"}, count=3)
    assert not layout_from({"q": "2"}, count=3).one
    assert layout_from({"view": "one", "q": "2"}, count=3).current == 2
    assert layout_from({"view": "one", "q": "99"}, count=3).current == 3
    for bad in ("0", "-1", "x", "", "²", "1" * 40):
        assert layout_from({"view": "one", "q": bad}, count=3).current == 1
    assert layout_from({"view": "one", "q": "2"}, count=3).query() == "?view=one&q=2"
    assert layout_from({}, count=3).query() == ""


def test_one_question_shown_the_others_hidden_but_in_the_form(client, content, ada):
    attempt = mock_services.mock_start(user=ada, script=content.mock)
    url = reverse("mock-attempt", args=[attempt.pk])
    everything = client.get(url).content.decode()
    assert _sections(everything) == [(1, False), (2, False), (3, False)]
    assert 'id="question-map"' not in everything
    assert f'href="{url}?view=one&amp;q=1"' in everything

    body = client.get(url, {"view": "one", "q": "2"}).content.decode()
    assert _sections(body) == [(1, True), (2, False), (3, True)]
    assert body.count('name="text-') == 3  # every answer box is still in the form
    map_html = body.split('id="question-map"')[1].split("</nav>")[0]
    assert map_html.count("<button") == 3
    assert re.search(
        r'data-q="2"\s+formaction="[^"]+\?view=one&amp;q=2"\s+aria-current="step"', map_html
    )
    assert "Previous question" in body and "Next question" in body
    assert f'formaction="{reverse("mock-save", args=[attempt.pk])}?view=one&amp;q=2"' in body
    assert f'href="{url}">Show all the questions on one page' in body
    assert "js/mock-one.js" in body


def test_the_map_saves_then_opens_the_chosen_question(client, content, ada):
    attempt = mock_services.mock_start(user=ada, script=content.mock)
    first = content.mock.steps.order_by("order").first()
    save = reverse("mock-save", args=[attempt.pk])
    response = client.post(f"{save}?view=one&q=3", {f"text-{first.pk}": "Depth hurts training."})
    assert response.status_code == 302
    assert response["Location"] == reverse("mock-attempt", args=[attempt.pk]) + "?view=one&q=3"
    assert MockAnswer.objects.get(attempt=attempt, step=first).text == "Depth hurts training."
    body = client.get(response["Location"]).content.decode()
    assert _sections(body)[2] == (3, False)
    map_html = body.split('id="question-map"')[1].split("</nav>")[0]
    assert 'class="secondary answered" data-q="1"' in map_html
    # the plain Save (all at once) still lands on the plain page
    plain = client.post(save, {f"text-{first.pk}": "x"})
    assert plain["Location"] == reverse("mock-attempt", args=[attempt.pk])


def test_starting_one_at_a_time(client, content, ada):
    response = client.post(
        reverse("mock-start", args=[content.mock.slug]), {"time": "untimed", "layout": "one"}
    )
    attempt = MockAttempt.objects.get(user=ada)
    assert response["Location"] == reverse("mock-attempt", args=[attempt.pk]) + "?view=one&q=1"
    body = client.get(response["Location"]).content.decode()
    assert "Untimed." in body and not re.search(r"\(\d+ minutes?\)", body)


def test_the_list_names_each_topic_once(client, content, ada):
    # free and mc are both about degradation, as the paper discussion asks about
    # ablations twice
    MockStep.objects.create(script=content.mock, order=4, item=content.items["ratio"])
    MockStep.objects.create(script=content.mock, order=5, exercise=content.exercise)
    body = client.get(reverse("mock-list")).content.decode()
    covers = body.split('<ul class="topics">')[1].split("</ul>")[0]
    labels = re.findall(r"<li>([^<]+?)\s*(?:<span|</li>)", covers)
    assert labels == [
        "The degradation problem",
        "The ResNet family",
        "Basic and bottleneck blocks",
        "Exercise: Basic block",
    ]
    assert covers.count("(2 questions)") == 1
    assert 'name="layout" value="one"' in body


def test_no_mock_title_states_a_duration():
    mocks = yaml.safe_load((ROOT / "quizbank" / "content" / "resnet" / "mocks.yaml").read_text())
    titles = [m["title"] for m in mocks["mocks"]]
    assert len(titles) >= 3
    assert not [t for t in titles if re.search(r"\d+\s*min", t)]
