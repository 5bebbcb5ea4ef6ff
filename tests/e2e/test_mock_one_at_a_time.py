"""One question at a time in Chromium: the map switches questions in place, marks answered
ones, survives a reload, and every answer reaches the review; without JavaScript the map
saves and reloads on the chosen question. Screenshot: artifacts_dir/screenshots/mock-one-*.png."""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client

from interviews.models import MockAnswer, MockAttempt
from quizbank.models import MockStep
from tests.conftest import logged_in_context, wait_in_page
from tests.learning.factories_learner import make_content, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shots(artifacts_dir):
    folder = artifacts_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _context(browser, live_server, user, **options):
    viewport = {"width": 1280, "height": 900}
    return logged_in_context(browser, live_server, user, viewport=viewport, **options)


def _steps(content):
    return [
        MockStep.objects.create(script=content.mock, order=n, item=content.items[key])
        for n, key in enumerate(("free", "mc", "numeric"), start=1)
    ]


def _visible(page) -> list[str]:
    return page.evaluate(
        "() => [...document.querySelectorAll('section.mock-step')].filter(s => !s.hidden"
        " && s.offsetParent !== null).map(s => s.dataset.q)"
    )


def test_one_question_at_a_time_with_the_map(browser, live_server, shots):
    content = make_content()
    steps = _steps(content)
    ada = make_user("ada")
    context = _context(browser, live_server, ada)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/mock/")
    card = page.locator(f"#{content.mock.slug}")
    card.get_by_label("One at a time, with a map").check()
    card.get_by_role("button", name=re.compile("Start")).click()
    page.wait_for_url(re.compile(r"/mock/attempt/\d+/\?view=one&q=1$"))
    assert _visible(page) == ["1"]
    assert page.locator("#question-map button").count() == 3

    page.evaluate("() => { window.sameDocument = true; }")
    page.locator(f"#text-{steps[0].pk}").type("Deeper plain nets train worse.")
    wait_in_page(
        page,
        "() => document.querySelector('#question-map button[data-q=\"1\"]').classList.contains('answered')",
    )
    page.locator("#question-map").get_by_role("button", name="Question 3").click()
    assert _visible(page) == ["3"]
    assert page.url.endswith("?view=one&q=3")
    assert page.evaluate("() => window.sameDocument === true")  # switched in place
    assert page.locator("#question-map button[aria-current=step]").inner_text() == "3"
    assert page.evaluate("() => document.activeElement.tagName") == "H2"
    page.screenshot(path=str(shots / "mock-one-1-map.png"), full_page=True)
    page.get_by_role("button", name="Previous question").click()
    assert _visible(page) == ["2"]

    attempt = MockAttempt.objects.get(user=ada)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the autosave (1.5 s after typing, or on blur)
        saved = MockAnswer.objects.filter(attempt=attempt, step=steps[0]).first()
        if saved and saved.text:
            break
        time.sleep(0.1)
    page.reload()
    assert _visible(page) == ["2"]
    assert page.locator(f"#text-{steps[0].pk}").input_value() == "Deeper plain nets train worse."
    page.get_by_role("button", name="Next question").click()
    page.locator(f"#text-{steps[2].pk}").fill("0.059")
    page.locator("#question-map").get_by_role("button", name="Question 1, answered").click()
    assert _visible(page) == ["1"]
    page.get_by_role("button", name="Submit and see the review").click()
    page.wait_for_url(re.compile(r"/review$"))
    answers = page.locator(".your-answer").all_inner_texts()
    # the answer typed on question 3, hidden when the form was sent, arrived too
    assert answers[0] == "Deeper plain nets train worse." and answers[2] == "0.059"
    assert errors == []
    context.close()


def test_without_javascript_the_map_saves_and_opens_the_question(browser, live_server, shots):
    content = make_content()
    steps = _steps(content)
    ada = make_user("ada")
    client = Client()
    client.force_login(ada)
    start = client.post(f"/mock/{content.mock.slug}/start/", {"time": "untimed", "layout": "one"})
    context = _context(browser, live_server, ada, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}{start['Location']}")
    assert _visible(page) == ["1"]
    page.locator(f"#text-{steps[0].pk}").fill("Training error, not test error.")
    page.get_by_role("button", name="Next question").click()
    page.wait_for_url(re.compile(r"\?view=one&q=2$"))
    assert _visible(page) == ["2"]
    assert "Answers saved at" in page.locator(".messages").inner_text()
    attempt = MockAttempt.objects.get(user=ada)
    assert (
        MockAnswer.objects.get(attempt=attempt, step=steps[0]).text
        == "Training error, not test error."
    )
    assert "answered" in page.locator('#question-map button[data-q="1"]').get_attribute("class")
    assert not re.search(r"\(\d+ minutes?\)", page.locator("h1").inner_text())
    page.screenshot(path=str(shots / "mock-one-2-nojs.png"), full_page=True)
    context.close()
