"""Multiple-choice options are shown in a stable order per learner and item, never in the
YAML order where the right option is usually first: on the card, in practice, in the mock
and in the Anki deck."""

from __future__ import annotations

import io
import re
import sqlite3
import tempfile
import zipfile

import pytest
from django.urls import reverse

from learning import selectors
from quizbank.models import Chapter, Item, MockStep
from quizbank.shuffling import options_for, shuffled_for
from tests.learning.factories_learner import make_content, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def bank():
    from quizbank.content_source import chapter_folders
    from quizbank.loader import bank_load

    bank_load(folders=chapter_folders())
    return Chapter.objects.get(slug="resnet")


def _mc_items(chapter: Chapter) -> list[Item]:
    return list(
        Item.objects.filter(
            chapter=chapter, retired=False, kind=Item.Kind.MULTIPLE_CHOICE
        ).prefetch_related("choices")
    )


def _shown_choice_ids(html: str) -> list[int]:
    return [int(v) for v in re.findall(r'name="choice" value="(\d+)"', html)]


def test_a_shuffle_is_a_stable_permutation_that_depends_on_learner_and_item():
    options = list(range(6))
    first = shuffled_for(options, learner_key="user:1", item_slug="blocks-x")
    assert sorted(first) == options
    assert shuffled_for(options, learner_key="user:1", item_slug="blocks-x") == first
    orders_by_learner = {
        tuple(shuffled_for(options, learner_key=f"user:{n}", item_slug="blocks-x"))
        for n in range(30)
    }
    orders_by_item = {
        tuple(shuffled_for(options, learner_key="user:1", item_slug=f"blocks-{n}"))
        for n in range(30)
    }
    assert len(orders_by_learner) > 10 and len(orders_by_item) > 10


def test_always_picking_the_first_option_no_longer_wins_over_the_bank(bank):
    user = make_user()
    items = _mc_items(bank)
    assert len(items) >= 30
    first_is_right = sum(options_for(item=item, user=user)[0].correct for item in items)
    # Four options shuffled: about a quarter; the YAML order gave every single one.
    assert first_is_right / len(items) <= 0.4, (first_is_right, len(items))


def test_the_practice_card_shows_the_learners_order_and_a_reload_keeps_it(client, bank):
    ada, bob = make_user("ada"), make_user("bob")
    part_orders: dict[str, list[list[int]]] = {"ada": [], "bob": []}
    for item in _mc_items(bank)[:12]:
        index = selectors.practice_items(part=item.part).index(item)
        url = reverse("practice-part", args=[item.part.slug]) + f"?n={index}"
        for user in (ada, bob):
            client.force_login(user)
            shown = _shown_choice_ids(client.get(url).content.decode())
            assert shown == [c.pk for c in options_for(item=item, user=user)]
            assert _shown_choice_ids(client.get(url).content.decode()) == shown  # reload
            part_orders[user.username].append(shown)
    assert part_orders["ada"] != part_orders["bob"]
    yaml_orders = [[c.pk for c in item.choices.all()] for item in _mc_items(bank)[:12]]
    assert part_orders["ada"] != yaml_orders


def test_the_due_card_and_its_feedback_keep_the_same_order(client):
    content = make_content()
    user = make_user()
    client.force_login(user)
    item = content.items["mc"]
    expected = [c.pk for c in options_for(item=item, user=user)]
    page = client.post(
        reverse("item-answer", args=[item.pk]),
        {"source": "practice", "certainty": "sure", "choice": [expected[0]]},
    )
    feedback = page.content.decode().split('<ul class="why">')[1]
    texts = [c.text for c in options_for(item=item, user=user)]
    positions = [feedback.index(text) for text in texts]
    assert positions == sorted(positions)


def test_options_carry_the_number_keys_1_to_n(client):
    content = make_content()
    client.force_login(make_user())
    page = client.get(reverse("practice-part", args=["degradation"]) + "?n=0").content.decode()
    assert content.items["mc"].slug  # the first degradation item is the multiple choice
    keys = re.findall(r'name="choice" value="\d+" data-option-key="(\d)"', page)
    assert keys == ["1", "2", "3"]


def test_the_mock_shows_a_multiple_choice_steps_options_in_the_learners_order(client):
    from interviews import services as mock_services

    content = make_content()
    user = make_user()
    client.force_login(user)
    item = content.items["mc"]
    MockStep.objects.create(script=content.mock, order=1, item=item)
    attempt = mock_services.mock_start(user=user, script=content.mock, time_factor=1.0)
    page = client.get(reverse("mock-attempt", args=[attempt.pk])).content.decode()
    listed = re.findall(
        r"<li>([^<]+)</li>", page.split('class="mock-options"')[1].split("</ol>")[0]
    )
    assert listed == [c.text for c in options_for(item=item, user=user)]


def _deck_fronts(data: bytes) -> list[str]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    with tempfile.NamedTemporaryFile(suffix=".anki2") as tmp:
        tmp.write(archive.read("collection.anki2"))
        tmp.flush()
        db = sqlite3.connect(tmp.name)
        try:
            return [row[0].split("\x1f")[0] for row in db.execute("select flds from notes")]
        finally:
            db.close()


def test_the_anki_deck_lists_options_in_the_downloading_learners_order(client, bank):
    user = make_user()
    client.force_login(user)
    fronts = _deck_fronts(client.get(reverse("deck-apkg")).content)
    first_is_right = 0
    items = _mc_items(bank)
    for item in items:
        from learning.exports import _html, _inline_html

        front = next(f for f in fronts if _html(item.prompt) in f)
        options = options_for(item=item, user=user)
        spots = [front.index(_inline_html(c.text)) for c in options]
        assert spots == sorted(spots), item.slug
        first_is_right += options[0].correct
    assert first_is_right / len(items) <= 0.4


def test_every_item_of_the_bank_has_a_difficulty_and_practice_goes_from_easy_to_hard(client, bank):
    import yaml

    from quizbank.content_source import chapter_folders

    declared = 0
    for path in chapter_folders()[0].rglob("*.yaml"):
        for entry in (yaml.safe_load(path.read_text()) or {}).get("items") or []:
            assert entry.get("difficulty") in (1, 2, 3), (path.name, entry["slug"])
            declared += 1
    assert declared == Item.objects.filter(chapter=bank, retired=False).count()
    client.force_login(make_user())
    for part in bank.parts.filter(retired=False):
        items = selectors.practice_items(part=part)
        levels = [item.difficulty for item in items]
        assert levels == sorted(levels), part.slug
        for index, item in enumerate(items[:3]):
            page = client.get(reverse("practice-part", args=[part.slug]) + f"?n={index}")
            assert f'action="{reverse("item-answer", args=[item.pk])}"' in page.content.decode()
    assert set(Item.objects.filter(chapter=bank).values_list("difficulty", flat=True)) == {
        1,
        2,
        3,
    }
