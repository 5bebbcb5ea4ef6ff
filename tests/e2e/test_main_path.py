"""The learner's main path in a real Chromium: sign up, rate the skills, start the plan,
answer a due card of each kind, see the dashboard update. Screenshots of every page go to
the test artifacts for review."""

from __future__ import annotations

import re

import pytest

from learning.models import LearnerCard, ReviewLogEntry, SkillRatingSnapshot
from tests.learning.factories_learner import make_content

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shots(artifacts_dir):
    folder = artifacts_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 100))

    def shot(page, name: str) -> None:
        page.screenshot(path=str(folder / f"{next(counter):02d}-{name}.png"), full_page=True)

    return shot


def _answer_card(page, kind: str, shot) -> None:
    card = page.locator("#card")
    if kind == "multiple_choice":
        card.get_by_label(re.compile("harder to optimise")).check()
        card.locator("input[name=certainty][value=sure]").check()
        shot(page, "due-multiple-choice")
        card.get_by_role("button", name=re.compile("Submit")).click()
    elif kind == "numeric":
        card.locator("input[name=number]").fill("25.6M")
        shot(page, "due-numeric")
        card.get_by_role("button", name=re.compile("Submit")).click()
    elif kind == "ordering":
        correct = ["3x3 conv", "BatchNorm", "ReLU", "3x3 conv", "BatchNorm"]
        used: set[int] = set()
        for row in card.locator(".order-row").all():
            text = row.locator("label").inner_text().strip()
            position = next(n for n, t in enumerate(correct, 1) if t == text and n not in used)
            used.add(position)
            row.locator("input").fill(str(position))
        shot(page, "due-ordering")
        card.get_by_role("button", name=re.compile("Submit")).click()
    elif kind == "free_text":
        card.locator("textarea[name=answer]").fill(
            "Training error goes up as plain nets get deeper, so it is not overfitting; "
            "the optimiser fails to find the identity solution."
        )
        shot(page, "due-free-text")
        # Space outside the text box reveals the model answer (keyboard shortcut).
        card.locator(".prompt").click()
        page.keyboard.press(" ")
        page.wait_for_selector("#card .model-answer")
        assert page.locator("#card input[name=point]:checked").count() == 3
        page.locator("#card input[name=certainty][value=sure]").check()
        shot(page, "due-free-text-rubric")
        page.locator("#card").get_by_role("button", name=re.compile("Submit")).click()
    page.wait_for_selector("#card .rating-given")


def test_main_path_in_chromium(live_server, browser, shots):
    make_content(day0_items=("mc", "numeric", "ordering", "free"))
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    base = live_server.url

    page.goto(f"{base}/accounts/signup/")
    page.fill("input[name=username]", "grace")
    page.fill("input[name=password1]", "Residual-Learning-2015")
    page.fill("input[name=password2]", "Residual-Learning-2015")
    page.select_option("select[name=time_zone]", "Europe/Paris")
    shots(page, "signup")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{base}/")
    assert page.locator("#due-total").inner_text() == "0"
    shots(page, "dashboard-new")

    page.goto(f"{base}/skills/")
    rows = page.locator(".skills-form tbody tr")
    for index, score in enumerate([4, 5, 2]):
        rows.nth(index).locator(f"input[value='{score}']").check()
    shots(page, "skills-rate")
    page.get_by_role("button", name="Save my ratings").click()
    page.wait_for_url(f"{base}/skills/history/")
    assert page.locator("#readiness").inner_text() == "2 of 3"
    page.wait_for_selector("canvas.skill-chart")
    shots(page, "skills-history")
    assert SkillRatingSnapshot.objects.count() == 1

    page.goto(f"{base}/plan/")
    page.locator("#start-plan").click()
    page.wait_for_selector("#day-21")
    shots(page, "plan")

    page.goto(f"{base}/")
    assert page.locator("#due-total").inner_text() == "6"  # 4 cards + 2 Day-0 tasks
    page.goto(f"{base}/due/")
    kinds_seen = []
    for _ in range(4):
        kind = page.locator("#card").get_attribute("data-kind")
        kinds_seen.append(kind)
        _answer_card(page, kind, shots)
        shots(page, f"feedback-{kind.replace('_', '-')}")
        if kind == "numeric":
            assert "Expected 25,557,032 parameters" in page.locator("#card").inner_text()
        if len(kinds_seen) < 4:
            # Enter goes to the next card (keyboard shortcut).
            with page.expect_navigation():
                page.keyboard.press("Enter")
        else:
            # Key 2 re-rates the last answer as Hard, then the queue page comes back.
            with page.expect_navigation():
                page.keyboard.press("2")
            assert ReviewLogEntry.objects.latest("pk").rating == 2
    assert sorted(kinds_seen) == ["free_text", "multiple_choice", "numeric", "ordering"]
    assert "Nothing due right now" in page.locator("main").inner_text()
    shots(page, "due-empty")

    page.goto(f"{base}/")
    assert page.locator("#due-total").inner_text() == "2"
    assert page.locator("#streak").inner_text() == "1"
    assert page.locator("#readiness").inner_text() == "2 of 3"
    page.wait_for_selector("#reviews-chart")
    shots(page, "dashboard-after")

    page.goto(f"{base}/practice/blocks/")
    shots(page, "practice")
    page.goto(f"{base}/problems/bottleneck-flops/?hints=1")
    page.wait_for_selector(".katex")  # math rendered by the vendored KaTeX
    shots(page, "problem")

    assert ReviewLogEntry.objects.filter(source="plan").count() == 4
    assert LearnerCard.objects.count() == 4
    assert errors == []


def test_answering_works_with_javascript_off(live_server, browser, shots):
    from django.contrib.auth import get_user_model

    content = make_content()
    get_user_model().objects.create_user(username="nojs", password="Residual-Learning-2015")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", "nojs")
    page.fill("input[name=password]", "Residual-Learning-2015")
    page.locator("form button[type=submit]").last.click()
    page.goto(f"{base}/practice/blocks/")
    card = page.locator("#card")
    assert card.get_attribute("data-kind") == "ordering"
    for n, row in enumerate(card.locator(".order-row").all(), 1):
        row.locator("input").fill(str(n))
    card.get_by_role("button", name=re.compile("Submit")).click()
    page.wait_for_selector("#card .rating-given")
    assert "practice only" in page.locator("#card").inner_text()
    shots(page, "nojs-feedback")
    assert ReviewLogEntry.objects.get().item == content.items["ordering"]
    context.close()
