"""Ordering items whose steps can be swapped defensibly accept those swaps (declared in
`accepted_orders` and explained), and still reject the rest."""

from __future__ import annotations

import pytest

from learning.answers import Certainty, check_ordering
from quizbank.models import Chapter, Item

pytestmark = pytest.mark.django_db

SWAPPABLE = (
    "degradation-diagnosis-order",
    "gradient-flow-derivation-steps",
    "residual-formulation-identity-construction",
)


@pytest.fixture
def bank():
    from quizbank.content_source import chapter_folders
    from quizbank.loader import bank_load

    bank_load(folders=chapter_folders())
    return Chapter.objects.get(slug="resnet")


def _positions(item: Item, order: list[int]) -> dict[int, int]:
    """`order` lists canonical positions in the order the learner puts them."""
    steps = list(item.choices.all())
    return {steps[n - 1].pk: place for place, n in enumerate(order, 1)}


@pytest.mark.parametrize("slug", SWAPPABLE)
def test_a_defensible_swap_is_accepted_and_explained(bank, slug):
    item = Item.objects.get(chapter=bank, slug=slug)
    assert item.accepted_orders, slug
    assert "also accepted" in item.explanation.lower()
    for order in item.accepted_orders:
        checked = check_ordering(
            item=item, positions=_positions(item, order), certainty=Certainty.SURE
        )
        assert checked.correct, (slug, order)


@pytest.mark.parametrize("slug", SWAPPABLE)
def test_other_orders_are_still_wrong(bank, slug):
    item = Item.objects.get(chapter=bank, slug=slug)
    count = item.choices.count()
    backwards = list(range(count, 0, -1))
    last_two_swapped = list(range(1, count - 1)) + [count, count - 1]
    for order in (backwards, last_two_swapped):
        if order in item.accepted_orders:
            continue
        checked = check_ordering(
            item=item, positions=_positions(item, order), certainty=Certainty.SURE
        )
        assert checked.correct is False, (slug, order)
