"""The real ResNet bank loads and has what the issue asks for."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command

from quizbank.models import (
    Chapter,
    ExerciseStatement,
    Item,
    MockScript,
    Problem,
    ReviewDay,
    Skill,
)
from tests.quizbank.loading import REAL, snapshot

pytestmark = pytest.mark.django_db

EXERCISES = {
    "basic-block",
    "bottleneck-block",
    "preact-block",
    "he-init",
    "param-count",
    "resnet-builder",
    "se-block",
    "residual-backward",
}


@pytest.fixture
def bank() -> Chapter:
    call_command("load_quizbank", str(REAL), stdout=io.StringIO(), stderr=io.StringIO())
    return Chapter.objects.get(slug="resnet")


def test_the_bank_has_the_counts_the_issue_asks_for(bank):
    assert Skill.objects.filter(chapter=bank, retired=False).count() == 10
    days = ReviewDay.objects.filter(chapter=bank, retired=False)
    assert [day.day for day in days] == [0, 3, 7, 14, 21]
    assert all(day.tasks.filter(retired=False).count() == 3 for day in days)
    items = Item.objects.filter(chapter=bank, retired=False)
    assert items.filter(cheat_sheet=True).count() == 10
    assert items.count() >= 60
    assert set(items.values_list("kind", flat=True)) == set(Item.Kind.values)
    problems = Problem.objects.filter(chapter=bank, retired=False)
    assert problems.count() == 5
    assert all(p.hints.count() >= 2 and p.solution.strip() for p in problems)
    exercises = ExerciseStatement.objects.filter(chapter=bank, retired=False)
    assert set(exercises.values_list("slug", flat=True)) == EXERCISES


def test_the_three_mock_interviews_exist_and_the_paper_discussion_opens_with_the_plot(bank):
    mocks = MockScript.objects.filter(chapter=bank, retired=False)
    assert set(mocks.values_list("kind", flat=True)) == set(MockScript.Kind.values)
    opening = mocks.get(kind=MockScript.Kind.PAPER_DISCUSSION).steps.first()
    assert opening.item is not None
    assert re.search(r"\b20\b.*\b56\b|\b56\b.*\b20\b", opening.item.prompt, re.DOTALL)
    implementation = mocks.get(kind=MockScript.Kind.IMPLEMENTATION)
    assert implementation.steps.filter(exercise__isnull=False).exists()
    rapid = mocks.get(kind=MockScript.Kind.RAPID_FIRE)
    assert rapid.steps.count() == 10
    assert all(step.item.cheat_sheet for step in rapid.steps.all())


def test_every_plan_task_points_at_something_to_practise(bank):
    for day in ReviewDay.objects.filter(chapter=bank):
        for task in day.tasks.all():
            target = {
                "items": task.items.exists(),
                "problem": task.problem_id is not None,
                "exercise": task.exercise_id is not None,
                "mock": task.mock_id is not None,
                "manual": True,
            }[task.kind]
            assert target, f"day {day.day} task {task.slug} has nothing to practise"


def test_reloading_the_real_bank_writes_nothing(bank):
    before = snapshot()
    out = io.StringIO()
    call_command("load_quizbank", str(REAL), stdout=out, stderr=io.StringIO())
    assert snapshot() == before
    assert all("created 0, updated 0" in line for line in out.getvalue().splitlines()[1:])


@pytest.mark.postgres
def test_the_real_bank_loads_on_postgres(postgres, bank):
    assert Item.objects.filter(chapter=bank).count() >= 60
