"""The plan covers the bank: every active item is on some checkpoint, the load of new
items is balanced across the checkpoints, items come easy before hard, and the
self-assessment brings the items of weak skills forward."""

from __future__ import annotations

import datetime as dt

import pytest
from fsrs import Rating

from quizbank import selectors, services
from quizbank.grading_answers import Checked
from quizbank.models import Chapter, Item, ReviewDay, Skill
from tests.quizbank.factories_learner import make_content, make_user

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC)


@pytest.fixture
def bank():
    from quizbank.loader import bank_load, chapter_folders

    bank_load(folders=chapter_folders())
    return Chapter.objects.get(slug="resnet")


def _new_items_per_day(chapter: Chapter) -> dict[int, set[int]]:
    seen: set[int] = set()
    per_day = {}
    for review_day in ReviewDay.objects.filter(chapter=chapter, retired=False).order_by("day"):
        ids = set(
            Item.objects.filter(
                review_tasks__review_day=review_day, review_tasks__retired=False, retired=False
            ).values_list("pk", flat=True)
        )
        per_day[review_day.day] = ids - seen
        seen |= ids
    return per_day


def test_every_active_item_is_on_some_checkpoint(bank):
    scheduled = set().union(*_new_items_per_day(bank).values())
    missing = Item.objects.filter(chapter=bank, retired=False).exclude(pk__in=scheduled)
    assert list(missing.values_list("slug", flat=True)) == []


def test_new_items_are_spread_evenly_over_the_checkpoints(bank):
    loads = {day: len(ids) for day, ids in _new_items_per_day(bank).items()}
    total = sum(loads.values())
    mean = total / len(loads)
    # Within a third of the mean each; the heaviest day is at most 1.5 times the lightest.
    assert all(abs(n - mean) <= mean / 3 for n in loads.values()), loads
    assert max(loads.values()) <= 1.5 * min(loads.values()), loads
    # Day 21 also holds a mock and an exercise: it brings no more new items than average.
    assert loads[21] <= mean, loads


def _review(user, item, at):
    checked = Checked(correct=True, rating=Rating.Good, feedback="", answer={})
    services.review_record(user=user, item=item, checked=checked, source="plan", now=at)


def test_weak_skills_bring_their_items_forward_weakest_first():
    content = make_content()
    user = make_user()
    skills = {s.slug: s for s in Skill.objects.filter(chapter=content.chapter)}
    services.skills_rate(
        user=user,
        chapter=content.chapter,
        scores={
            skills["explain-degradation"].pk: 5,
            skills["draw-blocks"].pk: 2,
            skills["describe-resnet50"].pk: 1,
        },
        now=T0,
    )
    services.plan_start(user=user, chapter=content.chapter, now=T0)
    queue = selectors.due_queue(user=user, chapter=content.chapter, now=T0 + dt.timedelta(hours=1))
    slugs = [e.item.slug for e in queue]
    # Day 0's own items first, then family (rated 1), then blocks (rated 2), from Day 3 on.
    assert slugs[:2] == ["degradation-cause", "explain-degradation-60s"]
    assert slugs[2] == "resnet50-params"
    assert set(slugs[3:]) == {"basic-block-order", "equal-width-ratio"}
    # Once reviewed, an item is not brought forward again (it still waits on its day).
    _review(user, content.items["numeric"], T0 + dt.timedelta(hours=2))
    later = selectors.due_queue(user=user, chapter=content.chapter, now=T0 + dt.timedelta(hours=3))
    assert "resnet50-params" not in [e.item.slug for e in later if e.source == "plan"]


def test_without_weak_skills_nothing_is_brought_forward():
    content = make_content()
    user = make_user()
    services.plan_start(user=user, chapter=content.chapter, now=T0)
    queue = selectors.due_queue(user=user, chapter=content.chapter, now=T0 + dt.timedelta(hours=1))
    assert [e.item.slug for e in queue] == ["degradation-cause", "explain-degradation-60s"]


def test_a_checkpoints_items_come_easy_before_hard():
    content = make_content(day0_items=("mc", "free", "numeric"))
    content.items["mc"].difficulty = 3
    content.items["mc"].save()
    content.items["numeric"].difficulty = 1
    content.items["numeric"].save()
    user = make_user()
    services.plan_start(user=user, chapter=content.chapter, now=T0)
    queue = selectors.due_queue(user=user, chapter=content.chapter, now=T0 + dt.timedelta(hours=1))
    assert [e.item.difficulty for e in queue] == sorted(e.item.difficulty for e in queue)
