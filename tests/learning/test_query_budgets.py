"""Every learner page stays within a small, fixed number of queries.

The learner is ten days into the plan on the real quiz bank (tests/learning/realistic.py):
fifteen checkpoint tasks, dozens of items, forty reviews, cards due, skill sittings. A
query per task, per item, per part or per review would take any of these pages far past
its budget (see test_the_data_makes_a_query_per_row_show). The budgets count what the
test client sees, SAVEPOINTs included (each atomic block inside the test's transaction
adds two; in production those are not statements), and they are the counts measured
when they were set plus a little room, all under 20.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from fsrs import Rating

from learning import selectors, services
from learning.answers import Checked
from learning.models import LearnerCard, ReviewLogEntry, SkillRatingSnapshot
from quizbank.models import Item, Part, Problem, ReviewTask, Skill
from tests.learning.realistic import learner_in_plan, within

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(client):
    built = learner_in_plan("ada")
    client.force_login(built.user)
    return built


def test_the_data_makes_a_query_per_row_show(world):
    """A budget is only worth something if a query per row would break it."""
    state = selectors.plan_state(user=world.user, chapter=world.chapter)
    tasks = [view for checkpoint in state.checkpoints for view in checkpoint.tasks]
    queue = selectors.due_queue(user=world.user, chapter=world.chapter)
    assert len(tasks) >= 12
    assert sum(1 for view in tasks if view.items_reviewed) >= 3
    assert len(queue) >= 10
    assert sum(1 for entry in queue if entry.source == "due") >= 5
    assert Part.objects.filter(chapter=world.chapter, retired=False).count() >= 6
    assert ReviewLogEntry.objects.filter(user=world.user).count() >= 40
    assert SkillRatingSnapshot.objects.filter(user=world.user).count() == 2


def _get(client, budget_check, budget, url):
    with within(budget_check, budget):
        response = client.get(url)
    assert response.status_code == 200, url
    return response


# --- pages ------------------------------------------------------------------------------


def test_dashboard(client, world, django_assert_max_num_queries):
    page = _get(client, django_assert_max_num_queries, 19, reverse("home")).content.decode()
    assert "Day 21" in page or "calendar" in page


def test_due_page(client, world, django_assert_max_num_queries):
    page = _get(client, django_assert_max_num_queries, 16, reverse("due")).content.decode()
    assert "left in today&#x27;s queue" in page or "left in today's queue" in page
    assert 'id="card"' in page


def test_due_page_after_answers_in_this_sitting(client, world, django_assert_max_num_queries):
    """Cards answered in this sitting are compared with every queued card (a card whose
    answer they showed waits): the queue's options are read at once, not per card."""
    for entry in selectors.due_queue(user=world.user, chapter=world.chapter)[:3]:
        data = {"source": entry.source, "version": _version(world, entry.item)}
        response = client.post(
            reverse("item-answer", args=[entry.item.pk]),
            data | {"mode": "self", "self_rating": "3"},
        )
        assert response.status_code == 200
    queue = selectors.due_queue(user=world.user, chapter=world.chapter)
    assert sum(1 for e in queue if e.item.kind == Item.Kind.MULTIPLE_CHOICE) >= 4
    page = _get(client, django_assert_max_num_queries, 19, reverse("due")).content.decode()
    assert 'id="card"' in page


def test_plan_page(client, world, django_assert_max_num_queries):
    page = _get(client, django_assert_max_num_queries, 14, reverse("plan")).content.decode()
    assert "cards reviewed" in page


def test_skills_pages(client, world, django_assert_max_num_queries):
    _get(client, django_assert_max_num_queries, 7, reverse("skills-rate"))
    _get(client, django_assert_max_num_queries, 11, reverse("skills-history"))
    snapshot = SkillRatingSnapshot.objects.filter(user=world.user).first()
    _get(client, django_assert_max_num_queries, 6, reverse("skills-snapshot", args=[snapshot.pk]))


def test_card_history(client, world, django_assert_max_num_queries):
    card = LearnerCard.objects.filter(user=world.user).first()
    _get(client, django_assert_max_num_queries, 6, reverse("card-detail", args=[card.pk]))


def test_practice_pages(client, world, django_assert_max_num_queries):
    page = _get(client, django_assert_max_num_queries, 6, reverse("practice")).content.decode()
    assert "/" in page
    part = Part.objects.filter(chapter=world.chapter, retired=False).first()
    url = reverse("practice-part", args=[part.slug])
    _get(client, django_assert_max_num_queries, 9, url)
    _get(client, django_assert_max_num_queries, 9, url + "?n=3")


def test_problem_page(client, world, django_assert_max_num_queries):
    problem = Problem.objects.filter(chapter=world.chapter, retired=False).first()
    _get(client, django_assert_max_num_queries, 6, reverse("problem", args=[problem.slug]))


def test_exports(client, world, django_assert_max_num_queries):
    _get(client, django_assert_max_num_queries, 8, reverse("plan-ics"))
    _get(client, django_assert_max_num_queries, 7, reverse("deck-apkg"))


def test_account_pages(client, world, django_assert_max_num_queries):
    _get(client, django_assert_max_num_queries, 4, reverse("account-settings"))
    _get(client, django_assert_max_num_queries, 4, reverse("api-tokens"))


# --- answers and other posts -------------------------------------------------------------


def _queue_head(world, kind: str | None = None, source: str | None = None):
    for entry in selectors.due_queue(user=world.user, chapter=world.chapter):
        if (kind is None or entry.item.kind == kind) and (source is None or entry.source == source):
            return entry
    raise AssertionError(f"no {kind or ''} {source or ''} card in the queue")


def _version(world, item) -> int:
    return services.card_version(LearnerCard.objects.filter(user=world.user, item=item).first())


def test_answering_a_due_card_and_showing_how_many_are_left(
    client, world, django_assert_max_num_queries
):
    entry = _queue_head(world, kind=Item.Kind.MULTIPLE_CHOICE)
    item = entry.item
    data = {
        "source": entry.source,
        "certainty": "sure",
        "version": _version(world, item),
        "shown_at": "1",
        "choice": [c.pk for c in item.choices.all() if c.correct],
    }
    with within(django_assert_max_num_queries, 21):
        response = client.post(reverse("item-answer", args=[item.pk]), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "left in today" in response.content.decode()
    assert ReviewLogEntry.objects.filter(user=world.user, item=item).exists()


def test_answer_that_completes_a_checkpoint_task(client, world, django_assert_max_num_queries):
    """The last unreviewed item of a due task: the task is ticked on the way."""
    entry = _queue_head(world, source="plan")
    task = entry.task
    others = [i for i in task.items.filter(retired=False) if i.pk != entry.item.pk]
    for other in others:
        services.review_record(
            user=world.user,
            item=other,
            checked=Checked(correct=True, rating=Rating.Good, feedback="", answer={}),
            source="plan",
        )
    item = entry.item
    data = {"source": "plan", "version": _version(world, item), "mode": "self", "self_rating": "3"}
    with within(django_assert_max_num_queries, 25):
        response = client.post(reverse("item-answer", args=[item.pk]), data)
    assert response.status_code == 200
    plan = selectors.plan_active(user=world.user, chapter=world.chapter)
    assert plan.completions.filter(task=task).exists()


def test_free_text_reveal_and_practice_answer(client, world, django_assert_max_num_queries):
    free = Item.objects.filter(
        chapter=world.chapter, retired=False, kind=Item.Kind.FREE_TEXT
    ).first()
    with within(django_assert_max_num_queries, 8):
        response = client.post(
            reverse("item-answer", args=[free.pk]),
            {"source": "practice", "answer": "It adds the input to the output.", "index": "0"},
        )
    assert response.status_code == 200 and 'name="point"' in response.content.decode()
    mc = Item.objects.filter(
        chapter=world.chapter, retired=False, kind=Item.Kind.MULTIPLE_CHOICE
    ).first()
    data = {
        "source": "practice",
        "part": mc.part.slug,
        "index": "0",
        "choice": [c.pk for c in mc.choices.all() if c.correct],
    }
    with within(django_assert_max_num_queries, 17):
        response = client.post(reverse("item-answer", args=[mc.pk]), data)
    assert response.status_code == 200


def test_rerate(client, world, django_assert_max_num_queries):
    entry = ReviewLogEntry.objects.filter(user=world.user, counted=True).latest("reviewed_at")
    with within(django_assert_max_num_queries, 9):
        response = client.post(reverse("review-rerate", args=[entry.pk]), {"rating": "2"})
    assert response.status_code == 302


def test_rating_skills(client, world, django_assert_max_num_queries):
    skills = Skill.objects.filter(chapter=world.chapter, retired=False)
    data = {f"skill-{s.pk}": "3" for s in skills}
    with within(django_assert_max_num_queries, 12):
        response = client.post(reverse("skills-rate"), data)
    assert response.status_code == 302


def test_plan_writes(client, world, django_assert_max_num_queries):
    plan = selectors.plan_active(user=world.user, chapter=world.chapter)
    task = ReviewTask.objects.filter(
        review_day__chapter=world.chapter, review_day__day=3, kind=ReviewTask.Kind.PROBLEM
    ).get()
    with within(django_assert_max_num_queries, 12):
        response = client.post(
            reverse("plan-task-confirm", args=[plan.pk, task.pk]), {"confirm": "yes"}
        )
    assert response.status_code == 302
    assert plan.completions.filter(task=task).exists()
    problem = Problem.objects.filter(chapter=world.chapter, retired=False).first()
    with within(django_assert_max_num_queries, 18):
        response = client.post(reverse("problem-solved", args=[problem.slug]), {"hints": "1"})
    assert response.status_code == 302
    with within(django_assert_max_num_queries, 10):
        response = client.post(reverse("plan-start"), {"confirm": "yes"})
    assert response.status_code == 302
    assert selectors.plan_active(user=world.user, chapter=world.chapter).pk != plan.pk
