"""Every free-text item agrees with itself: its model answer, checked as a learner's
answer, pre-ticks every rubric point and fires no trap. Matching is by word prefix
("regulariz" matches "regularization") and traps are phrases only a wrong answer says."""

from __future__ import annotations

import pytest

from learning.answers import free_text_hints
from quizbank.models import Chapter, Item, RubricPoint
from tests.learning.factories_learner import make_content

pytestmark = pytest.mark.django_db


@pytest.fixture
def bank():
    from quizbank.content_source import chapter_folders
    from quizbank.loader import bank_load

    bank_load(folders=chapter_folders())
    return Chapter.objects.get(slug="resnet")


def test_every_model_answer_ticks_every_point_and_fires_no_trap(bank):
    items = Item.objects.filter(chapter=bank, kind=Item.Kind.FREE_TEXT, retired=False)
    assert items.count() >= 20
    problems = []
    for item in items.prefetch_related("rubric"):
        hints, traps = free_text_hints(item=item, answer=item.model_answer)
        problems += [
            f"{item.slug}: point not ticked: {h.text}" for h in hints if not h.likely_covered
        ]
        problems += [f"{item.slug}: trap fired: {t.phrase}" for t in traps if t.likely_made]
    assert problems == [], "\n".join(problems)


def _free_with(keywords: list[str], traps: list[dict]) -> Item:
    item = make_content().items["free"]
    item.traps = traps
    item.save()
    item.rubric.all().delete()
    RubricPoint.objects.create(item=item, order=1, text="the point", keywords=keywords)
    return item


def test_a_keyword_stem_matches_the_words_that_start_with_it():
    item = _free_with(["regulariz", "precondition", "optimi"], [])
    for answer in ["It regularizes the net", "a preconditioning effect", "an optimisation problem"]:
        hints, _ = free_text_hints(item=item, answer=answer)
        assert hints[0].likely_covered, answer
    hints, _ = free_text_hints(item=item, answer="unregularized and suboptimal")
    assert not hints[0].likely_covered  # a stem starts at the start of a word


def test_markdown_and_hyphens_do_not_hide_a_keyword():
    item = _free_with(["training error", "pre-activation"], [])
    hints, _ = free_text_hints(item=item, answer="higher **training** error")
    assert hints[0].likely_covered
    hints, _ = free_text_hints(item=item, answer="the preactivation block")
    assert hints[0].likely_covered


def test_a_trap_fires_on_the_wrong_claim_but_not_when_it_is_ruled_out():
    item = _free_with(["x"], [{"phrase": "overfitting", "why": "training error rises too"}])
    for answer in [
        "This rules out overfitting.",
        "It is neither overfitting nor vanishing gradients.",
        "not overfitting, since training error rises",
        "Overfitting is excluded because training error rises",
    ]:
        _, traps = free_text_hints(item=item, answer=answer)
        assert not traps[0].likely_made, answer
    _, traps = free_text_hints(item=item, answer="The deeper net is overfitting the data.")
    assert traps[0].likely_made
