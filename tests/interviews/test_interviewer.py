"""Interviewer mode: a candidate invites a peer by a secret link; the peer sees the script
with the interviewer's notes and rubric and scores each answer; the candidate sees those
scores in the review. The link opens only that attempt, and expires with it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from interviews import clock as mock_clock
from interviews import selectors as mock_selectors
from interviews import services as mock_services
from interviews.models import MockAnswer, MockAttempt
from quizbank.models import MockStep
from tests.learning.factories_learner import make_content, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def content():
    content = make_content()
    MockStep.objects.create(
        script=content.mock,
        order=1,
        item=content.items["free"],
        interviewer_note="Follow-up: does training error rise too?",
    )
    return content


@pytest.fixture
def candidate(client):
    user = make_user("ada")
    client.force_login(user)
    return user


def _start(client, content) -> MockAttempt:
    client.post(reverse("mock-start", args=[content.mock.slug]), {"time": "standard"})
    return MockAttempt.objects.get(script=content.mock)


def test_the_candidate_invites_and_the_peer_scores_each_answer(client, content, candidate):
    attempt = _start(client, content)
    step = attempt.script.steps.get()
    response = client.post(reverse("mock-invite", args=[attempt.pk]), {"action": "invite"})
    assert response.status_code == 302
    attempt.refresh_from_db()
    token = attempt.interviewer_token
    assert len(token) >= 24
    page = client.get(reverse("mock-attempt", args=[attempt.pk])).content.decode()
    assert reverse("mock-interviewer", args=[token]) in page

    peer = Client()  # not logged in: the link is the only key
    sheet = peer.get(reverse("mock-interviewer", args=[token]))
    html = sheet.content.decode()
    assert sheet.status_code == 200 and sheet["Referrer-Policy"] == "same-origin"
    assert "Follow-up: does training error rise too?" in html  # the interviewer's notes
    assert content.items["free"].model_answer[:20] in html
    assert "Rubric" in html and f'name="score-{step.pk}"' in html
    saved = peer.post(
        reverse("mock-interviewer", args=[token]),
        {f"score-{step.pk}": "3", f"comment-{step.pk}": "Clear, but name the 56-layer curve."},
    )
    assert saved.status_code == 302
    answer = MockAnswer.objects.get(attempt=attempt, step=step)
    assert (answer.interviewer_score, answer.interviewer_comment) == (
        3,
        "Clear, but name the 56-layer curve.",
    )

    client.post(reverse("mock-submit", args=[attempt.pk]), {f"text-{step.pk}": "Not overfitting."})
    review = client.get(reverse("mock-review", args=[attempt.pk])).content.decode()
    assert "3 of 4" in review and "name the 56-layer curve" in review


def test_the_link_opens_only_its_attempt_and_nothing_else(client, content, candidate):
    attempt = _start(client, content)
    token = mock_services.mock_interviewer_invite(attempt=attempt)
    peer = Client()
    assert peer.get(reverse("mock-interviewer", args=[token[:-1] + "x"])).status_code == 404
    assert peer.get(reverse("mock-interviewer", args=["short"])).status_code == 404
    # the peer is not logged in as the candidate: their pages stay closed
    for url in [
        reverse("mock-attempt", args=[attempt.pk]),
        reverse("mock-review", args=[attempt.pk]),
        reverse("due"),
    ]:
        assert peer.get(url).status_code == 302, url
    # a question of another script cannot be scored through this attempt
    with pytest.raises(mock_services.MockError):
        mock_services.mock_interviewer_score(attempt=attempt, scores={10_000: 3}, comments={})


def test_a_new_link_or_a_revoke_kills_the_old_one(client, content, candidate):
    attempt = _start(client, content)
    first = mock_services.mock_interviewer_invite(attempt=attempt)
    second = mock_services.mock_interviewer_invite(attempt=attempt)
    peer = Client()
    assert peer.get(reverse("mock-interviewer", args=[first])).status_code == 404
    assert peer.get(reverse("mock-interviewer", args=[second])).status_code == 200
    client.post(reverse("mock-invite", args=[attempt.pk]), {"action": "revoke"})
    assert peer.get(reverse("mock-interviewer", args=[second])).status_code == 404


def test_the_link_expires_with_its_attempt(client, content, candidate):
    attempt = _start(client, content)
    token = mock_services.mock_interviewer_invite(attempt=attempt)
    ended = mock_services.mock_submit(attempt=attempt)
    grace = mock_selectors.INTERVIEWER_GRACE
    soon = ended.ended_at + grace - dt.timedelta(seconds=1)
    late = ended.ended_at + grace + dt.timedelta(seconds=1)
    assert mock_selectors.mock_interviewer_attempt(token=token, now=soon) == ended
    assert mock_selectors.mock_interviewer_attempt(token=token, now=late) is None
    # a timed attempt nobody submitted expires at its deadline
    other = make_user("bob")
    running = mock_services.mock_start(user=other, script=content.mock, now=timezone.now())
    token2 = mock_services.mock_interviewer_invite(attempt=running)
    after = running.deadline + mock_clock.GRACE + grace + dt.timedelta(seconds=1)
    assert mock_selectors.mock_interviewer_attempt(token=token2, now=after) is None
    with pytest.raises(mock_services.MockClosed):
        mock_services.mock_interviewer_invite(attempt=ended)


def test_another_learner_cannot_invite_on_my_attempt(client, content, candidate):
    attempt = _start(client, content)
    intruder = Client()
    intruder.force_login(make_user("eve"))
    response = intruder.post(reverse("mock-invite", args=[attempt.pk]), {"action": "invite"})
    assert response.status_code == 404
    attempt.refresh_from_db()
    assert attempt.interviewer_token == ""
