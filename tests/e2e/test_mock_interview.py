"""A short timed mock in a real Chromium: start it, type, see the autosave, reload (the
answer and the clock persist), let it run out (the page goes to the review with the last
autosave). Screenshots go to artifacts_dir/screenshots/mock-*.png."""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client
from django.utils import timezone

from interviews.clock import GRACE
from interviews.models import MockAnswer, MockAttempt
from quizbank.models import MockScript, MockStep
from tests.conftest import wait_in_page
from tests.learning.factories_learner import make_content, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Long enough to type, autosave and reload; short enough to wait out in a test.
DURATION_S = 20


@pytest.fixture
def shots(artifacts_dir):
    folder = artifacts_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _remaining(page) -> float:
    return int(page.locator("#mock-clock").get_attribute("data-remaining-ms")) / 1000


def test_short_mock_autosaves_resumes_after_reload_and_expires_to_the_review(
    browser, live_server, shots
):
    content = make_content()
    script = MockScript.objects.create(
        chapter=content.chapter,
        slug="short",
        title="Short mock",
        kind="rapid_fire",
        intro="One question against a short clock.",
        duration_s=DURATION_S,
        order=5,
    )
    step = MockStep.objects.create(
        script=script, order=1, item=content.items["free"], interviewer_note="Training panel."
    )
    user = make_user("ada")
    client = Client()
    client.force_login(user)

    context = browser.new_context()
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{live_server.url}/mock/")
    section = page.locator("#short")
    section.get_by_label("Standard").check()
    page.screenshot(path=str(shots / "mock-1-list.png"), full_page=True)
    section.get_by_role("button", name=re.compile("Start")).click()
    page.wait_for_url(re.compile(r"/mock/attempt/\d+/$"))
    attempt = MockAttempt.objects.get(user=user, script=script)
    started = (attempt.started_at, attempt.deadline)

    answer = "Deeper plain nets train worse: it is overfitting."
    box = page.locator(f"#text-{step.pk}")
    box.click()
    box.type(answer, delay=10)
    page.locator(f"#saved-{step.pk}").get_by_text("Saved at").wait_for(timeout=8000)
    assert MockAnswer.objects.get(attempt=attempt, step=step).text == answer
    page.screenshot(path=str(shots / "mock-2-saved.png"), full_page=True)
    before_reload = _remaining(page)
    shown_before = page.locator("#mock-remaining").inner_text()

    page.reload()
    assert page.locator(f"#text-{step.pk}").input_value() == answer
    after_reload = _remaining(page)
    # the clock kept running: a restart would show the full 20 s again
    assert after_reload < DURATION_S
    assert after_reload <= before_reload
    assert re.fullmatch(r"0:\d\d", shown_before)
    attempt.refresh_from_db()
    assert (attempt.started_at, attempt.deadline) == started
    page.screenshot(path=str(shots / "mock-3-reloaded.png"), full_page=True)

    page.wait_for_url(re.compile(r"/review$"), timeout=(DURATION_S + 15) * 1000)
    review = page.locator("main")
    assert answer in review.locator(".your-answer").inner_text()
    assert "Instant rejection" in review.locator(".trap").inner_text()
    assert "Time ran out" in review.locator("#mock-summary").inner_text()
    page.screenshot(path=str(shots / "mock-4-review.png"), full_page=True)

    attempt.refresh_from_db()
    assert attempt.end_reason == MockAttempt.EndReason.EXPIRED
    assert attempt.ended_at == attempt.deadline
    assert MockAnswer.objects.get(attempt=attempt, step=step).text == answer
    assert errors == []
    context.close()


def test_screen_readers_hear_one_minute_left_once_the_clock_crosses_it(browser, live_server, shots):
    content = make_content()
    # two seconds above the one-minute mark, so that the page loads before the mark
    script = MockScript.objects.create(
        chapter=content.chapter, slug="minute", title="Minute", kind="rapid_fire", duration_s=63
    )
    MockStep.objects.create(script=script, order=1, item=content.items["free"])
    user = make_user("ada")
    client = Client()
    client.force_login(user)
    response = client.post(f"/mock/{script.slug}/start/", {"time": "standard"})
    context = browser.new_context()
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    page.goto(f"{live_server.url}{response['Location']}")
    announce = page.locator("#mock-announce")
    assert announce.get_attribute("aria-live") == "assertive"
    assert announce.inner_text() == ""
    wait_in_page(
        page,
        "document.getElementById('mock-announce').textContent === '1 minute left.'",
        timeout=10_000,
    )
    shown = page.locator("#mock-remaining").inner_text()
    assert shown in {"1:00", "0:59", "0:58", "0:57"}
    page.screenshot(path=str(shots / "mock-5-one-minute.png"), full_page=True)
    context.close()


def test_without_javascript_the_page_shows_the_deadline_and_the_server_refuses_late_saves(
    browser, live_server, shots
):
    content = make_content()
    script = MockScript.objects.create(
        chapter=content.chapter, slug="nojs", title="No script", kind="rapid_fire", duration_s=6
    )
    step = MockStep.objects.create(script=script, order=1, item=content.items["free"])
    user = make_user("ada")
    client = Client()
    client.force_login(user)
    context = browser.new_context(java_script_enabled=False)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/mock/")
    page.locator("#nojs").get_by_role("button", name=re.compile("Start")).click()
    page.wait_for_url(re.compile(r"/mock/attempt/\d+/$"))
    attempt = MockAttempt.objects.get(user=user, script=script)
    assert "Ends at" in page.locator("#mock-clock").inner_text()

    page.locator(f"#text-{step.pk}").fill("Training error rises with depth.")
    page.get_by_role("button", name="Save answers").click()
    assert "Answers saved at" in page.locator(".messages").inner_text()
    page.screenshot(path=str(shots / "mock-6-nojs-saved.png"), full_page=True)

    wait = (attempt.deadline + GRACE - timezone.now()).total_seconds() + 0.5
    time.sleep(max(0.0, wait))
    page.locator(f"#text-{step.pk}").fill("Written after the deadline.")
    page.get_by_role("button", name="Save answers").click()
    page.wait_for_url(re.compile(r"/review$"))
    assert "not accepted" in page.locator(".messages").inner_text()
    assert "Training error rises with depth." in page.locator(".your-answer").inner_text()
    page.screenshot(path=str(shots / "mock-7-nojs-refused.png"), full_page=True)
    assert MockAnswer.objects.get(attempt=attempt, step=step).text == (
        "Training error rises with depth."
    )
    context.close()
