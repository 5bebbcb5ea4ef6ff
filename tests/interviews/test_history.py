"""The mock history: ended attempts per format, with the figures the review page shows
(answered, rubric points covered, a peer's mean score), oldest first, and the change of
coverage from the first attempt to the latest."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from interviews import services as mock_services
from interviews.history import mock_history
from quizbank.models import MockScript, MockStep, RubricPoint
from tests.learning.factories_learner import make_content, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def content():
    content = make_content()
    MockStep.objects.create(script=content.mock, order=1, item=content.items["free"])
    MockStep.objects.create(script=content.mock, order=2, item=content.items["mc"])
    content.paper = MockScript.objects.create(
        chapter=content.chapter,
        slug="paper",
        title="The paper",
        kind="paper_discussion",
        duration_s=900,
        order=2,
    )
    MockStep.objects.create(script=content.paper, order=1, item=content.items["free"])
    return content


def _attempt(user, script, *, days_ago: float, texts: dict, ticks: int | None = None):
    """An attempt started `days_ago`, with `texts` {step: text}, submitted, then reviewed
    with the first `ticks` rubric points of each free-text step ticked."""
    start = timezone.now() - dt.timedelta(days=days_ago)
    attempt = mock_services.mock_start(user=user, script=script, now=start)
    for step, text in texts.items():
        mock_services.mock_autosave(attempt=attempt, step=step, text=text, now=start)
    mock_services.mock_submit(attempt=attempt, now=start + dt.timedelta(minutes=5))
    if ticks is not None:
        mock_services.mock_review(
            attempt=attempt,
            ticks={
                step.pk: [
                    p.pk
                    for p in RubricPoint.objects.filter(item=step.item).order_by("order")[:ticks]
                ]
                for step in texts
            },
            now=start + dt.timedelta(minutes=6),
        )
    return attempt


def test_scores_per_format_oldest_first(content):
    ada, bob = make_user("ada"), make_user("bob")
    free_step, mc_step = content.mock.steps.order_by("order")
    points = RubricPoint.objects.filter(item=content.items["free"]).count()
    assert points == 3
    first = _attempt(ada, content.mock, days_ago=3, texts={free_step: "Depth hurts."}, ticks=1)
    second = _attempt(
        ada,
        content.mock,
        days_ago=1,
        texts={free_step: "Training error rises.", mc_step: "B"},
        ticks=3,
    )
    paper = _attempt(ada, content.paper, days_ago=2, texts={}, ticks=None)
    (paper_step,) = content.paper.steps.all()
    mock_services.mock_interviewer_score(attempt=paper, scores={paper_step.pk: 3}, comments={})
    mock_services.mock_start(user=ada, script=content.mock)  # running: not in the history
    _attempt(bob, content.mock, days_ago=1, texts={free_step: "x"}, ticks=3)  # not Ada's

    formats = mock_history(user=ada)
    assert [f.kind for f in formats] == ["rapid_fire", "paper_discussion"]
    rapid, paper_format = formats
    assert [p.attempt.pk for p in rapid.points] == [first.pk, second.pk]
    assert [(p.answered, p.questions) for p in rapid.points] == [(1, 2), (2, 2)]
    assert [(p.points_covered, p.points_total) for p in rapid.points] == [(1, 3), (3, 3)]
    assert [p.covered_percent for p in rapid.points] == [33, 100]
    assert rapid.change == 67 and rapid.change_size == 67
    assert [p.peer_mean for p in rapid.points] == [None, None]
    (only,) = paper_format.points
    assert only.answered == 0 and only.peer_mean == 3.0 and only.covered_percent == 0
    assert paper_format.change is None
    chart = rapid.as_chart(time_zone="Asia/Tokyo")
    assert chart["covered"] == [33, 100] and chart["answered"] == [50, 100]
    expected_label = first.started_at.astimezone(dt.timezone(dt.timedelta(hours=9)))
    assert chart["labels"][0] == expected_label.strftime("%Y-%m-%d %H:%M")


def test_the_page_lists_each_format_with_its_trend(client, content):
    ada = make_user("ada")
    client.force_login(ada)
    assert "No mock interview has ended yet" in client.get(reverse("mock-history")).content.decode()
    free_step, _ = content.mock.steps.order_by("order")
    _attempt(ada, content.mock, days_ago=2, texts={free_step: "a"}, ticks=3)
    later = _attempt(ada, content.mock, days_ago=1, texts={free_step: "b"}, ticks=1)
    response = client.get(reverse("mock-history"))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="format-rapid_fire"' in page and 'id="format-paper_discussion"' not in page
    assert 'rubric coverage <strong class="change">down 67</strong> points' in page
    assert "3/3 (100%)" in page and "1/3 (33%)" in page
    assert reverse("mock-review", args=[later.pk]) in page
    assert 'id="mock-history"' in page and "js/charts.js" in page
    assert reverse("mock-history") in client.get(reverse("mock-list")).content.decode()


def test_an_attempt_whose_clock_ran_out_shows_up(client, content):
    ada = make_user("ada")
    client.force_login(ada)
    mock_services.mock_start(
        user=ada, script=content.mock, now=timezone.now() - dt.timedelta(hours=2)
    )
    page = client.get(reverse("mock-history")).content.decode()
    assert 'id="format-rapid_fire"' in page and "0/2" in page


def test_the_history_needs_a_log_in(client, content):
    response = client.get(reverse("mock-history"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
