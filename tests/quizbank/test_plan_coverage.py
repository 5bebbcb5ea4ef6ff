"""The plan covers the bank: every active item is on some checkpoint, the load of new
items is balanced across the checkpoints, items come easy before hard, and the
self-assessment brings the items of weak skills forward."""

from __future__ import annotations

import datetime as dt

import pytest
from fsrs import Rating

from learning import selectors, services
from learning.answers import Checked
from quizbank.models import Chapter, Item, ReviewDay, Skill
from tests.learning.factories_learner import make_content, make_user

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC)


@pytest.fixture
def bank():
    from quizbank.content_source import chapter_folders
    from quizbank.loader import bank_load

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


def test_every_exercise_and_problem_appears_in_some_task(bank):
    from quizbank.models import ExerciseStatement, Problem, ReviewTask

    tasks = list(ReviewTask.objects.filter(review_day__chapter=bank, retired=False))
    named_problems = {p.slug for t in tasks for p in t.named_problems()}
    named_exercises = {e.slug for t in tasks for e in t.named_exercises()}
    active = {"chapter": bank, "retired": False}
    assert set(Problem.objects.filter(**active).values_list("slug", flat=True)) == named_problems
    assert (
        set(ExerciseStatement.objects.filter(**active).values_list("slug", flat=True))
        == named_exercises
    )


def test_every_mock_interview_is_named_by_some_task(bank):
    """The implementation round was in the bank but on no day of the plan (issue 14)."""
    from quizbank.models import MockScript, ReviewTask

    named = set(
        ReviewTask.objects.filter(
            review_day__chapter=bank, retired=False, kind=ReviewTask.Kind.MOCK
        ).values_list("mock__slug", flat=True)
    )
    active = set(
        MockScript.objects.filter(chapter=bank, retired=False).values_list("slug", flat=True)
    )
    assert active == named
    implementation = ReviewTask.objects.get(
        review_day__chapter=bank, retired=False, mock__slug="implementation-round"
    )
    # It comes after the days that implement the blocks it asks for.
    exercise_days = {
        e.slug: t.review_day.day
        for t in ReviewTask.objects.filter(review_day__chapter=bank, retired=False)
        for e in t.named_exercises()
    }
    assert implementation.review_day.day > max(
        exercise_days["basic-block"], exercise_days["bottleneck-block"]
    )


def _day(n: int, hours: float = 1) -> dt.datetime:
    return T0 + dt.timedelta(days=n, hours=hours)


def test_a_task_naming_several_problems_is_done_when_all_are_solved(bank, client):
    from django.urls import reverse

    from learning.models import TaskCompletion
    from quizbank.models import Problem

    user = make_user()
    plan = services.plan_start(user=user, chapter=bank, now=T0)
    first, second = (
        Problem.objects.get(chapter=bank, slug=s)
        for s in ("gradient-flow-100-blocks", "residual-formulation-skip-variants")
    )
    services.problem_mark_solved(user=user, problem=first, now=_day(3))
    assert not TaskCompletion.objects.filter(plan=plan, task__slug="d3-gradient-derivation")
    services.problem_mark_solved(user=user, problem=second, now=_day(3, 2))
    assert TaskCompletion.objects.filter(plan=plan, task__slug="d3-gradient-derivation").exists()
    client.force_login(user)
    page = client.get(reverse("plan")).content.decode()
    assert reverse("exercise-detail", args=["residual-backward"]) in page
    assert reverse("problem", args=["degradation-experiment-design"]) in page


def test_a_task_naming_several_exercises_is_done_when_all_have_passed(bank):
    from grading.models import Submission
    from learning.models import TaskCompletion

    user = make_user()
    plan = services.plan_start(user=user, chapter=bank, now=T0)
    services.plan_record_exercise_passed(user=user, exercise_slug="basic-block", now=_day(3))
    assert not TaskCompletion.objects.filter(plan=plan, task__slug="d3-implement-blocks")
    Submission.objects.create(
        user=user,
        exercise="basic-block",
        code="...",
        kind=Submission.Kind.SUBMIT,
        status=Submission.Status.PASSED,
        finished_at=_day(3),
    )
    services.plan_record_exercise_passed(
        user=user, exercise_slug="residual-backward", now=_day(3, 2)
    )
    assert TaskCompletion.objects.filter(plan=plan, task__slug="d3-implement-blocks").exists()
