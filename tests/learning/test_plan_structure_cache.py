"""The plan's structure (days, tasks, items) is kept between requests, never served stale.

learning/selectors/plan.py keeps it per process keyed by the chapter's revision, which
quizbank/revision.py bumps with every change to the bank. Each test warms the kept
structure, changes the bank the way an editor or the loader would, then reads the plan as
the next request does (the chapter row read afresh) and expects the change.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from learning import selectors
from quizbank.loader import bank_load
from quizbank.models import Chapter, ReviewDay, ReviewTask
from tests.learning.realistic import learner_in_plan
from tests.quizbank.loading import copy_fixture, edit_yaml

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return learner_in_plan("ada")


def _next_request(world, **kwargs):
    """The plan as a new request reads it: the chapter row afresh, then the plan."""
    chapter = Chapter.objects.get(pk=world.chapter.pk)
    return selectors.plan_state(user=world.user, chapter=chapter, **kwargs)


def _tasks(state) -> dict[str, list[int]]:
    return {
        view.task.slug: [item.pk for item in view.items]
        for checkpoint in state.checkpoints
        for view in checkpoint.tasks
    }


def _outline(state) -> list:
    return [
        (
            c.day,
            c.status,
            [(v.task.slug, v.status, v.items_reviewed, len(v.items)) for v in c.tasks],
        )
        for c in state.checkpoints
    ]


@pytest.mark.parametrize("named", [True, False])
def test_a_second_request_reads_no_structure_and_sees_the_same_plan(world, named):
    with CaptureQueriesContext(connection) as first:
        cold = _next_request(world, named=named)
    with CaptureQueriesContext(connection) as second:
        warm = _next_request(world, named=named)
    assert _outline(warm) == _outline(cold)
    assert len(_tasks(cold)) >= 12
    # days, tasks, items (with parts) and, named, the tasks' problems and exercises
    assert len(first) - len(second) >= (5 if named else 3)
    tables = " ".join(q["sql"] for q in second.captured_queries)
    assert "quizbank_reviewtask" not in tables and "quizbank_reviewday" not in tables


def test_a_task_retired_in_the_admin_leaves_the_next_page(world):
    slug = next(iter(_tasks(_next_request(world))))
    task = ReviewTask.objects.get(review_day__chapter=world.chapter, slug=slug)
    task.retired = True
    task.save()
    assert slug not in _tasks(_next_request(world))


def test_an_item_taken_off_a_task_or_retired_leaves_the_next_page(world):
    tasks = _tasks(_next_request(world))
    slug, items = next((s, i) for s, i in tasks.items() if len(i) >= 2)
    task = ReviewTask.objects.get(review_day__chapter=world.chapter, slug=slug)
    task.items.remove(items[0])
    assert _tasks(_next_request(world))[slug] == items[1:]
    other = task.items.get(pk=items[1])
    other.retired = True
    other.save()
    assert _tasks(_next_request(world))[slug] == items[2:]


def test_a_day_renamed_shows_its_new_title(world):
    _next_request(world)
    day = ReviewDay.objects.filter(chapter=world.chapter, retired=False).first()
    day.title = "Renamed for the test"
    day.save()
    titles = [c.title for c in _next_request(world).checkpoints]
    assert "Renamed for the test" in titles


def test_each_change_bumps_the_revision_once_and_a_load_once_in_all(tmp_path):
    """The loader retires in bulk (no signals) and saves row by row: one bump for all."""
    folder = copy_fixture(tmp_path)
    bank_load(folders=[folder])
    chapter = Chapter.objects.get(slug="mini")
    start = chapter.revision
    task = ReviewTask.objects.filter(review_day__chapter=chapter).first()
    task.title = "changed"
    task.save()
    assert Chapter.objects.get(pk=chapter.pk).revision == start + 1

    edit_yaml(folder / "plan.yaml", lambda doc: doc["days"].pop())  # retires a day, in bulk
    bank_load(folders=[folder])
    assert ReviewDay.objects.get(chapter=chapter, day=3).retired
    assert Chapter.objects.get(pk=chapter.pk).revision == start + 2


def test_a_reload_that_retires_a_day_drops_it_from_the_kept_plan(tmp_path):
    from django.contrib.auth import get_user_model

    from learning import services

    folder = copy_fixture(tmp_path)
    bank_load(folders=[folder])
    chapter = Chapter.objects.get(slug="mini")
    user = get_user_model().objects.create_user("bo", password="pw-for-the-test-only")
    services.plan_start(user=user, chapter=chapter)
    days = [c.day for c in selectors.plan_state(user=user, chapter=chapter).checkpoints]
    assert 3 in days
    edit_yaml(folder / "plan.yaml", lambda doc: doc["days"].pop())
    bank_load(folders=[folder])
    chapter = Chapter.objects.get(pk=chapter.pk)
    assert [c.day for c in selectors.plan_state(user=user, chapter=chapter).checkpoints] == [
        d for d in days if d != 3
    ]
