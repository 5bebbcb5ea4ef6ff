"""Learner pages through Django's test client: forms work without JavaScript, htmx gets
the card partial, and another learner's ids are 404."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from learning import services
from learning.answers import Checked
from learning.models import (
    LearnerCard,
    LearnerPlan,
    ReviewLogEntry,
    SkillRatingSnapshot,
    TaskCompletion,
)
from tests.learning.factories_learner import make_content, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def content():
    return make_content()


@pytest.fixture
def ada(client):
    user = make_user("ada")
    client.force_login(user)
    return user


def test_pages_need_login(client, content):
    for name in ["due", "plan", "practice", "skills-rate", "skills-history"]:
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/login" in response["Location"], name


def test_every_page_renders(client, content, ada):
    services.plan_start(user=ada, chapter=content.chapter)
    for url in [
        reverse("home"),
        reverse("due"),
        reverse("plan"),
        reverse("practice"),
        reverse("practice-part", args=["blocks"]),
        reverse("skills-rate"),
        reverse("skills-history"),
        reverse("problem", args=["bottleneck-flops"]) + "?hints=2&solution=1",
    ]:
        assert client.get(url).status_code == 200, url


def test_rating_skills_saves_a_dated_snapshot_and_keeps_history(client, content, ada):
    url = reverse("skills-rate")
    page = client.get(url).content.decode()
    assert "Can Derive" in page and "Explain the degradation problem" in page
    data = {f"skill-{s.pk}": "2" for s in content.skills}
    assert client.post(url, data).status_code == 302
    data[f"skill-{content.skills[0].pk}"] = "5"
    data[f"skill-{content.skills[1].pk}"] = "4"
    client.post(url, data)
    assert SkillRatingSnapshot.objects.filter(user=ada).count() == 2
    history = client.get(reverse("skills-history")).content.decode()
    assert "2 of 3" in history
    # The weakest skill links to what practises it.
    assert reverse("practice-part", args=["family"]) in history
    # A missing skill is refused and nothing is saved.
    response = client.post(url, {f"skill-{content.skills[0].pk}": "3"})
    assert response.status_code == 400
    assert SkillRatingSnapshot.objects.filter(user=ada).count() == 2


def test_another_learners_ids_are_404(client, content, ada):
    bob = make_user("bob")
    snapshot = services.skills_rate(
        user=bob, chapter=content.chapter, scores={content.skills[0].pk: 3}
    )
    plan = services.plan_start(user=bob, chapter=content.chapter)
    entry = services.review_record(
        user=bob,
        item=content.items["mc"],
        checked=Checked(correct=True, rating=3, feedback=""),
        source="due",
    )
    card = LearnerCard.objects.get(user=bob)
    assert client.get(reverse("skills-snapshot", args=[snapshot.pk])).status_code == 404
    response = client.post(
        reverse("plan-task-confirm", args=[plan.pk, content.tasks["d0-draw"].pk]),
        {"confirm": "yes"},
    )
    assert response.status_code == 404
    assert not TaskCompletion.objects.exists()
    assert (
        client.post(reverse("review-rerate", args=[entry.pk]), {"rating": "1"}).status_code == 404
    )
    entry.refresh_from_db()
    assert entry.rating == 3
    assert client.get(reverse("card-detail", args=[card.pk])).status_code == 404
    # Bob sees his own.
    client.force_login(bob)
    assert client.get(reverse("skills-snapshot", args=[snapshot.pk])).status_code == 200
    assert client.get(reverse("card-detail", args=[card.pk])).status_code == 200


def test_start_plan_then_restart_needs_confirmation(client, content, ada):
    client.post(reverse("plan-start"))
    first = LearnerPlan.objects.get(user=ada)
    client.post(reverse("plan-start"))  # no confirmation: nothing happens
    assert LearnerPlan.objects.filter(user=ada).count() == 1
    client.post(reverse("plan-start"), {"confirm": "yes"})
    assert LearnerPlan.objects.filter(user=ada).count() == 2
    first.refresh_from_db()
    assert not first.active
    page = client.get(reverse("plan")).content.decode()
    assert "Day 21" in page and "Earlier runs" in page


def test_manual_task_is_ticked_only_with_the_confirmation(client, content, ada):
    plan = services.plan_start(user=ada, chapter=content.chapter)
    url = reverse("plan-task-confirm", args=[plan.pk, content.tasks["d0-draw"].pk])
    client.post(url, {})
    assert not TaskCompletion.objects.exists()
    client.post(url, {"confirm": "yes"})
    assert TaskCompletion.objects.get(plan=plan).how == "manual"
    # A task of a day not yet come is refused.
    client.post(
        reverse("plan-task-confirm", args=[plan.pk, content.tasks["d3-draw"].pk]),
        {"confirm": "yes"},
    )
    assert TaskCompletion.objects.count() == 1


def _answer(client, item, data, htmx=False, source="plan"):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(
        reverse("item-answer", args=[item.pk]),
        {"source": source, "shown_at": str(int(timezone.now().timestamp() * 1000) - 5000), **data},
        **headers,
    )


def test_answering_each_kind_logs_a_review_and_moves_the_card(client, content, ada):
    services.plan_start(user=ada, chapter=content.chapter)
    items = content.items
    right = items["mc"].choices.get(correct=True)
    response = _answer(client, items["mc"], {"choice": right.pk, "certainty": "sure"})
    assert (
        response.status_code == 200
        and 'Rated <strong class="rating-given">Easy' in response.content.decode()
    )

    response = _answer(
        client, items["numeric"], {"number": "25.6M", "certainty": "unsure"}, htmx=True
    )
    page = response.content.decode()
    assert "<html" not in page and 'id="card"' in page  # the partial for htmx
    assert "Expected 25,557,032 parameters" in page

    steps = list(items["ordering"].choices.all())
    positions = {f"pos-{s.pk}": str(n) for n, s in enumerate(steps, 1)}
    response = _answer(client, items["ordering"], {**positions, "certainty": "guess"})
    assert "Correct order" in response.content.decode()

    free = items["free"]
    reveal = _answer(client, free, {"answer": "Training error rises. It is not overfitting."})
    page = reveal.content.decode()
    assert "Model answer" in page and "likely missed" in page
    assert not ReviewLogEntry.objects.filter(item=free).exists()  # nothing logged on reveal
    ticked = re.findall(r'name="point" value="(\d+)" checked', page)
    assert len(ticked) == 2
    response = _answer(
        client, free, {"step": "rate", "answer": "x", "point": ticked, "certainty": "sure"}
    )
    assert "You covered 2 of 3 points" in response.content.decode()

    logs = ReviewLogEntry.objects.filter(user=ada).order_by("pk")
    assert [(e.item.slug, e.rating) for e in logs] == [
        ("degradation-cause", 4),
        ("resnet50-params", 3),
        ("basic-block-order", 2),
        ("explain-degradation-60s", 3),
    ]
    assert all(e.counted and 4000 <= e.duration_ms <= 60000 for e in logs)
    assert LearnerCard.objects.filter(user=ada).count() == 4


def test_bad_answers_are_refused_without_logging(client, content, ada):
    assert _answer(client, content.items["mc"], {}).status_code == 400
    assert _answer(client, content.items["numeric"], {"number": ""}).status_code == 400
    assert _answer(client, content.items["ordering"], {}).status_code == 400
    assert _answer(client, content.items["free"], {"answer": " "}).status_code == 400
    with_htmx = _answer(client, content.items["mc"], {}, htmx=True)
    assert with_htmx.status_code == 200 and "Choose an answer." in with_htmx.content.decode()
    assert not ReviewLogEntry.objects.exists()


def test_practice_leaves_the_schedule_alone_unless_asked(client, content, ada):
    item = content.items["mc"]
    wrong = item.choices.filter(correct=False).first()
    page = client.get(reverse("practice-part", args=["degradation"])).content.decode()
    assert "Count this toward my schedule" in page
    _answer(
        client, item, {"choice": wrong.pk, "part": "degradation", "index": "0"}, source="practice"
    )
    assert not LearnerCard.objects.exists()
    entry = ReviewLogEntry.objects.get()
    assert entry.source == "practice" and not entry.counted
    response = _answer(
        client,
        item,
        {"choice": wrong.pk, "count": "on", "part": "degradation", "index": "0"},
        source="practice",
    )
    assert LearnerCard.objects.filter(user=ada, item=item).exists()
    assert reverse("practice-part", args=["degradation"]) + "?n=1" in response.content.decode()


def test_due_page_shows_checkpoint_cards_then_nothing(client, content, ada):
    services.plan_start(user=ada, chapter=content.chapter)
    page = client.get(reverse("due")).content.decode()
    assert "2</strong> cards left" in page and content.items["mc"].prompt[:20] in page
    assert "Task d0-draw" in page  # the manual task is listed as also due
    for key in ["mc", "free"]:
        services.review_record(
            user=ada,
            item=content.items[key],
            checked=Checked(correct=True, rating=3, feedback=""),
            source="plan",
        )
    page = client.get(reverse("due")).content.decode()
    assert "0</strong> cards left" in page and "Nothing due right now" in page


def test_rerate_changes_the_rating(client, content, ada):
    item = content.items["mc"]
    right = item.choices.get(correct=True)
    _answer(client, item, {"choice": right.pk, "certainty": "sure"}, source="due")
    entry = ReviewLogEntry.objects.get()
    response = client.post(
        reverse("review-rerate", args=[entry.pk]), {"rating": "2", "next": "/due/"}
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.rating == 2


def test_problem_page_shows_hints_one_by_one_and_solved_ticks_the_task(client, content, ada):
    plan = services.plan_start(user=ada, chapter=content.chapter)
    url = reverse("problem", args=["bottleneck-flops"])
    page = client.get(url).content.decode()
    assert "Hint 1" not in page and "Show hint 1" in page
    page = client.get(url + "?hints=1").content.decode()
    assert "Hint 1" in page and "Hint 2" not in page and "$k^2 C_{in} C_{out} HW$" in page
    page = client.get(url + "?hints=2&solution=1").content.decode()
    assert "Worked solution" in page
    client.post(
        reverse("problem-solved", args=["bottleneck-flops"]), {"hints": "2", "solution": "1"}
    )
    assert TaskCompletion.objects.filter(plan=plan, task=content.tasks["d0-problem"]).exists()


def test_dashboard_figures(client, content, ada):
    now = timezone.now()
    services.plan_start(user=ada, chapter=content.chapter, now=now - dt.timedelta(days=2))
    services.skills_rate(
        user=ada,
        chapter=content.chapter,
        scores={content.skills[0].pk: 4, content.skills[1].pk: 5, content.skills[2].pk: 2},
    )
    for days_ago, key, rating in [(2, "mc", 3), (1, "free", 1), (0, "mc", 4), (0, "numeric", 3)]:
        services.review_record(
            user=ada,
            item=content.items[key],
            checked=Checked(correct=rating > 1, rating=rating, feedback=""),
            source="plan",
            now=now - dt.timedelta(days=days_ago, seconds=1),
        )
    response = client.get(reverse("home"))
    page = response.content.decode()
    ctx = response.context
    assert ctx["streak"] == 3 and 'id="streak">3<' in page
    assert (ctx["readiness"].at_target, ctx["readiness"].total) == (2, 3)
    assert 'id="readiness">2 of 3<' in page
    mastery = {m.part.slug: (m.mastered, m.items) for m in ctx["mastery"]}
    assert mastery == {"degradation": (1, 2), "blocks": (0, 2), "family": (1, 1)}
    series = ctx["series"]
    assert series["reviews"][-3:] == [1, 1, 2] and sum(series["reviews"]) == 4
    assert series["retention"][-3:] == [100.0, 0.0, 100.0] and series["retention"][0] is None
    calendar = ctx["calendar"]
    assert len(calendar) == 22 and calendar[2].is_today
    assert [d.day for d in calendar if d.checkpoint] == [0, 3, 7, 14, 21]
    assert calendar[0].checkpoint.status == "overdue"  # Day 0's problem and drawing not done
    # Due: the free card (lapsed yesterday, due again) + Day 0's two open tasks.
    assert ctx["due_cards"] == 1 and ctx["due_tasks"] == 2 and 'id="due-total">3<' in page
    assert "review-series" in page  # chart data embedded for Chart.js
