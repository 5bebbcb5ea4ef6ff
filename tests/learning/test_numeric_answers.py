"""Numeric answers: every usual written form is read, compared in base units with a
relative tolerance; unreadable input asks for a re-entry (never wrong, never Again), and
parsing is bounded (a huge exponent is refused at once, no input gives a 500)."""

from __future__ import annotations

import random
import time

import pytest
from django.urls import reverse

from learning.answers import Certainty, check_numeric
from learning.models import ReviewLogEntry
from quizbank.models import Chapter, Item
from quizbank.numbers import NumberFormatError, read_number
from tests.learning.factories_learner import make_content, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def bank():
    from quizbank.content_source import chapter_folders
    from quizbank.loader import bank_load

    bank_load(folders=chapter_folders())
    return Chapter.objects.get(slug="resnet")


def _item(chapter: Chapter, slug: str) -> Item:
    return Item.objects.get(chapter=chapter, slug=slug)


@pytest.mark.parametrize(
    "text", ["4.09 billion", "4.09G", "4.089e9", "4.089", "4,089,000,000", "4.09 bn", "4.1e9"]
)
def test_resnet50_multiply_adds_accept_every_usual_form(bank, text):
    item = _item(bank, "family-resnet50-gmacs")
    assert check_numeric(item=item, text=text, certainty=Certainty.SURE).correct, text


@pytest.mark.parametrize("text", ["25.6M", "25,557,032", "2.56e7", "25.6 million", "25557032"])
def test_resnet50_parameters_accept_the_rounded_forms(bank, text):
    item = _item(bank, "family-resnet50-params")
    assert check_numeric(item=item, text=text, certainty=Certainty.SURE).correct, text


@pytest.mark.parametrize("text", ["28.54%", "28.54", "28,54", "28.5", "28,54 %"])
def test_an_error_rate_accepts_percent_sign_and_decimal_comma(bank, text):
    item = _item(bank, "degradation-plain-34-top1-error")
    assert check_numeric(item=item, text=text, certainty=Certainty.SURE).correct, text


def test_the_neighbouring_value_is_not_accepted(bank):
    """12.22 is the other figure next to 12.35 in the same table; it must be wrong."""
    item = _item(bank, "gradient-flow-constant-scaling-error")
    assert check_numeric(item=item, text="12.35", certainty=Certainty.SURE).correct
    assert not check_numeric(item=item, text="12.22", certainty=Certainty.SURE).correct


def test_every_numeric_item_of_the_bank_uses_a_relative_tolerance_in_base_units(bank):
    items = Item.objects.filter(chapter=bank, kind=Item.Kind.NUMERIC, retired=False)
    loose = [
        i.slug
        for i in items
        if (i.tolerance or 0) > 0 and i.tolerance_mode != Item.ToleranceMode.RELATIVE
    ]
    assert loose == []


@pytest.mark.parametrize(
    "text", ["twenty-eight and a half", "about a third", "1e5e3", "1.2.3", "12 34", "%", "e9"]
)
def test_unreadable_numbers_ask_for_a_reentry_and_log_nothing(client, text):
    content = make_content()
    user = make_user()
    client.force_login(user)
    item = content.items["numeric"]
    response = client.post(
        reverse("item-answer", args=[item.pk]),
        {"source": "due", "certainty": "sure", "number": text},
    )
    assert response.status_code == 400
    assert "type it again" in response.content.decode()
    assert not ReviewLogEntry.objects.filter(user=user).exists()


def test_two_steps_at_the_same_place_ask_for_a_reentry_and_log_nothing(client):
    content = make_content()
    user = make_user()
    client.force_login(user)
    item = content.items["ordering"]
    data = {f"pos-{c.pk}": 1 for c in item.choices.all()}
    response = client.post(
        reverse("item-answer", args=[item.pk]), {"source": "due", "certainty": "sure"} | data
    )
    assert response.status_code == 400
    assert "different position" in response.content.decode()
    assert not ReviewLogEntry.objects.filter(user=user).exists()


@pytest.mark.parametrize(
    "text",
    [
        "1x10^10000000",
        "1 × 10^-99999999",
        "1e10000000",
        "9" * 5000,
        "1" + ",000" * 40,
        "2.5 * 10 ** 400",
    ],
)
def test_huge_inputs_are_refused_at_once(text):
    started = time.perf_counter()
    with pytest.raises(NumberFormatError):
        read_number(text)
    assert time.perf_counter() - started < 0.05


def test_no_input_gives_a_server_error(client):
    content = make_content()
    client.force_login(make_user())
    item = content.items["numeric"]
    alphabet = "0123456789.,eE+-xX*^{}% _kKMGBbn\u2212\u00d7\u00b7\u2009"
    rng = random.Random(14)
    inputs = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(150)]
    inputs += ["1x10^10000000", "1e999", "-1e999", "0x10^5", "nan", "inf", "1e-400"]
    for text in inputs:
        response = client.post(
            reverse("item-answer", args=[item.pk]),
            {"source": "practice", "certainty": "sure", "number": text},
        )
        assert response.status_code in (200, 400), text
