"""Numbers from requests are read with bounds: junk answers 400 with a message, never 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.params import int_param, small_int
from learning.answers import NumberFormatError, parse_number
from tests.learning.factories_learner import make_content, make_user

pytestmark = pytest.mark.django_db

JUNK = ["²", "٣", "9" * 5000, "-1", "1e3", " 12x"]


@pytest.fixture
def ada(client):
    content = make_content()
    client.force_login(make_user("ada"))
    return content


@pytest.mark.parametrize("raw", JUNK)
def test_small_int_takes_only_a_dozen_ascii_digits(raw):
    assert small_int(raw) is None
    assert small_int(" 42 ") == 42


def test_int_param_defaults_when_absent_and_refuses_out_of_range():
    from django.core.exceptions import BadRequest

    assert int_param({}, "n", default=3, maximum=9) == 3
    assert int_param({"n": "7"}, "n", default=3, maximum=9) == 7
    with pytest.raises(BadRequest, match="from 0 to 9"):
        int_param({"n": "10"}, "n", default=3, maximum=9)


@pytest.mark.parametrize("raw", JUNK)
def test_practice_and_problem_pages_answer_400_with_a_message(client, ada, raw):
    part = ada.items["mc"].part.slug
    page = client.get(reverse("practice-part", args=[part]), {"n": raw})
    assert page.status_code == 400 and "must be a whole number" in page.content.decode()
    page = client.get(reverse("problem", args=[ada.problem.slug]), {"hints": raw})
    assert page.status_code == 400
    solved = client.post(reverse("problem-solved", args=[ada.problem.slug]), {"hints": raw})
    assert solved.status_code == 400


@pytest.mark.parametrize("raw", ["²", "9" * 5000])
def test_answering_with_a_junk_shown_at_or_position_is_400_not_500(client, ada, raw):
    item = ada.items["mc"]
    right = item.choices.get(correct=True)
    response = client.post(
        reverse("item-answer", args=[item.pk]),
        {"choice": [right.pk, raw], "certainty": "sure", "shown_at": raw},
    )
    assert response.status_code == 400


def test_skill_ratings_and_exercise_ids_in_superscript_are_refused_politely(client, ada):
    response = client.post(reverse("skills-rate"), {f"skill-{ada.skills[0].pk}": "²"})
    assert response.status_code == 400
    page = client.get(reverse("exercise-detail", args=["se-block"]), {"submission": "²"})
    assert page.status_code == 400
    tokens = client.post(reverse("api-tokens"), {"action": "revoke", "token": "9" * 5000})
    assert tokens.status_code == 302


@pytest.mark.parametrize("text", ["1x10^400", "1e400", "9" * 5000, "2.5 x 10^" + "9" * 5000])
def test_huge_numbers_are_a_format_error_and_the_card_says_so(client, ada, text):
    with pytest.raises(NumberFormatError):
        parse_number(text)
    item = ada.items["numeric"]
    response = client.post(
        reverse("item-answer", args=[item.pk]), {"number": text, "certainty": "sure"}
    )
    # Unreadable, like an empty answer: the card asks again (issue 14), never a 500.
    assert response.status_code == 400
