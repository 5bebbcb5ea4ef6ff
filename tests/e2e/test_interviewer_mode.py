"""Interviewer mode in a real Chromium: the candidate invites a peer, the peer (another
browser, not logged in) scores the answer, the candidate's review shows the score.
Screenshots go to artifacts_dir/screenshots/interviewer-*.png."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from interviews.models import MockAnswer, MockAttempt
from quizbank.models import MockStep
from tests.learning.factories_learner import make_content, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_peer_scores_the_attempt_and_the_candidate_sees_it(browser, live_server, artifacts_dir):
    shots = artifacts_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    content = make_content()
    step = MockStep.objects.create(
        script=content.mock,
        order=1,
        item=content.items["free"],
        interviewer_note="Follow-up: what happens to the training error?",
    )
    user = make_user("ada")
    client = Client()
    client.force_login(user)
    start = client.post(f"/mock/{content.mock.slug}/start/", {"time": "untimed"})
    candidate = browser.new_context()
    candidate.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = candidate.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}{start['Location']}")
    page.locator("#invite-interviewer").click()
    link = page.locator("#interviewer-url").input_value()
    assert re.search(r"/mock/interviewer/[\w-]{24,}/$", link)
    page.locator(f"#text-{step.pk}").fill("Training error rises too: not overfitting.")

    peer_context = browser.new_context()  # no session: the link is the only key
    peer = peer_context.new_page()
    peer.on("pageerror", lambda exc: errors.append(str(exc)))
    peer.goto(link)
    assert "Follow-up: what happens to the training error?" in peer.locator("main").inner_text()
    peer.locator(f"input[name=score-{step.pk}][value='4']").check()
    peer.locator(f"#comment-{step.pk}").fill("Strong: named the training curves.")
    peer.screenshot(path=str(shots / "interviewer-1-sheet.png"), full_page=True)
    peer.get_by_role("button", name="Save the scores").click()
    peer.wait_for_selector(".messages")
    assert MockAnswer.objects.get(step=step).interviewer_score == 4

    page.locator("#mock-submit").click()
    page.wait_for_url(re.compile(r"/review$"))
    review = page.locator(f"#step-{step.pk}")
    assert "4 of 4" in review.locator(".peer-score").inner_text()
    assert "named the training curves" in review.locator(".peer-comment").inner_text()
    page.screenshot(path=str(shots / "interviewer-2-review.png"), full_page=True)
    assert MockAttempt.objects.get(user=user).ended_at is not None
    assert errors == []
    peer_context.close()
    candidate.close()
