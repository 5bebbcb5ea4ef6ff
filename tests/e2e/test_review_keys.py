"""The Anki-like review loop in a real Chromium: answer in the head with the keyboard only,
Esc and Ctrl+Enter in a text box, Skip on practice; drafts that survive a reload; a mock
answer typed just before a reload reaches the server. Screenshots go to
artifacts_dir/screenshots/review-*.png."""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client

from interviews.models import MockAnswer, MockAttempt
from learning import services
from learning.models import LearnerCard, ReviewLogEntry
from quizbank.models import MockScript, MockStep
from tests.learning.factories_learner import make_content, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shots(artifacts_dir):
    folder = artifacts_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _logged_in_page(browser, live_server, user):
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


def test_a_whole_review_with_the_keyboard(browser, live_server, shots):
    content = make_content(day0_items=("mc", "free"))
    user = make_user("ada")
    services.plan_start(user=user, chapter=content.chapter)
    context, page, errors = _logged_in_page(browser, live_server, user)
    base = live_server.url

    page.goto(f"{base}/due/")
    assert page.locator("#card .prompt").inner_text().startswith(content.items["mc"].prompt[:10])
    page.locator("#card .prompt").click()
    page.keyboard.press(" ")  # show the answer without choosing
    page.wait_for_selector("#card form.self-rate")
    assert "harder to optimise" in page.locator("#card .answer-text").inner_text().lower()
    page.screenshot(path=str(shots / "review-1-shown.png"), full_page=True)
    page.keyboard.press("3")
    page.wait_for_selector("#card .rating-given")
    entry = ReviewLogEntry.objects.get(user=user, item=content.items["mc"])
    assert entry.rating == 3 and entry.answer == {"in_head": True}
    assert LearnerCard.objects.get(user=user, item=content.items["mc"]).reps == 1
    # the header count follows the card's (both say 1 left)
    assert page.locator(".queue-size strong").inner_text() == "1"
    assert "1 left" in page.locator("#card .remaining").inner_text()

    page.keyboard.press("Enter")  # next card
    page.wait_for_selector("#card textarea[name=answer]")
    box = page.locator("#card textarea[name=answer]")
    box.click()
    box.type("Training error rises with depth; it is not overfitting.")
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.tagName") != "TEXTAREA"
    page.keyboard.press(" ")  # typed: the graded reveal, as before
    page.wait_for_selector("#card input[name=point]")
    page.wait_for_timeout(600)  # a reader's pause, so the recorded time is clearly positive
    page.keyboard.press("Control+Enter")  # submits the rubric from anywhere in the card
    page.wait_for_selector("#card .rating-given")
    free = ReviewLogEntry.objects.get(user=user, item=content.items["free"])
    assert free.duration_ms and free.duration_ms > 500
    page.screenshot(path=str(shots / "review-2-free-text-rated.png"), full_page=True)

    page.goto(f"{base}/practice/degradation/?n=0")
    page.locator("#card .prompt").click()
    page.keyboard.press("s")
    page.wait_for_url(re.compile(r"\?n=1$"))
    assert errors == []
    context.close()


def test_ctrl_enter_reveals_a_free_text_answer_from_inside_the_box(browser, live_server):
    content = make_content(day0_items=("free",))
    user = make_user("ada")
    services.plan_start(user=user, chapter=content.chapter)
    context, page, errors = _logged_in_page(browser, live_server, user)
    page.goto(f"{live_server.url}/due/")
    box = page.locator("#card textarea[name=answer]")
    box.click()
    box.type("It is not overfitting.")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#card .model-answer")
    assert page.locator("#card input[name=point]").count() == 3
    assert errors == []
    context.close()


def test_a_free_text_draft_survives_a_reload_and_goes_once_answered(browser, live_server, shots):
    content = make_content(day0_items=("free",))
    user = make_user("ada")
    services.plan_start(user=user, chapter=content.chapter)
    context, page, errors = _logged_in_page(browser, live_server, user)
    page.goto(f"{live_server.url}/due/")
    draft = "Plain nets get worse training error as they deepen"
    page.locator("#card textarea[name=answer]").type(draft)
    page.reload()
    assert page.locator("#card textarea[name=answer]").input_value() == draft
    page.screenshot(path=str(shots / "review-3-draft-restored.png"), full_page=True)
    page.locator("#card .prompt").click()
    page.keyboard.press(" ")
    page.wait_for_selector("#card input[name=point]")
    page.locator("#card").get_by_role("button", name=re.compile("Submit")).click()
    page.wait_for_selector("#card .rating-given")
    key = f"draft:item:{content.items['free'].pk}"
    assert page.evaluate("key => localStorage.getItem(key)", key) is None
    assert errors == []
    context.close()


def test_a_mock_answer_typed_just_before_a_reload_is_saved(browser, live_server):
    content = make_content()
    script = MockScript.objects.create(
        chapter=content.chapter, slug="long", title="Long", kind="rapid_fire", duration_s=900
    )
    step = MockStep.objects.create(script=script, order=1, item=content.items["free"])
    user = make_user("ada")
    context, page, errors = _logged_in_page(browser, live_server, user)
    client = Client()
    client.force_login(user)
    start = client.post(f"/mock/{script.slug}/start/", {"time": "standard"})
    page.goto(f"{live_server.url}{start['Location']}")
    attempt = MockAttempt.objects.get(user=user, script=script)
    text = "Identity shortcuts add no parameters"
    page.locator(f"#text-{step.pk}").type(text)
    page.reload()  # well inside the autosave's 1.5 s delay
    deadline = time.monotonic() + 5
    saved = None
    while time.monotonic() < deadline:
        saved = MockAnswer.objects.filter(attempt=attempt, step=step).first()
        if saved and saved.text == text:
            break
        time.sleep(0.1)
    assert saved is not None and saved.text == text
    assert page.locator(f"#text-{step.pk}").input_value() == text
    # a fresh browser (no localStorage) gets it from the server
    other, fresh, _ = _logged_in_page(browser, live_server, user)
    fresh.goto(f"{live_server.url}{start['Location']}")
    assert fresh.locator(f"#text-{step.pk}").input_value() == text
    assert errors == []
    other.close()
    context.close()
