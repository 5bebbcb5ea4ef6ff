"""Every learner page under the Content-Security-Policy, in a real Chromium.

The policy lets only our own files run or style a page. This walks each page a learner
can reach, with the real quiz bank (math, code blocks, figures), and fails on any CSP
report in the console and on any script error; it also checks that what the vendored
libraries do still happens (htmx swaps, KaTeX renders, CodeMirror mounts, Chart.js draws).
"""

from __future__ import annotations

import re

import pytest

from learning.models import SkillRatingSnapshot
from quizbank.models import Chapter, MockScript, Part, Problem
from tests.conftest import wait_in_page
from tests.learning.factories_learner import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Residual-Learning-2015"


@pytest.fixture
def bank():
    from quizbank.content_source import chapter_folders
    from quizbank.loader import bank_load

    bank_load(folders=chapter_folders())
    return Chapter.objects.get(slug="resnet")


def test_every_learner_page_runs_under_the_policy_without_a_violation(live_server, browser, bank):
    make_user("grace", password=PASSWORD)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on(
        "console",
        lambda msg: (
            problems.append(f"{page.url}: {msg.text}")
            if msg.type in ("error", "warning") and "Content Security Policy" in msg.text
            else None
        ),
    )
    page.on("pageerror", lambda exc: problems.append(f"{page.url}: {exc}"))
    base = live_server.url

    math_seen: list[str] = []

    def visit(path: str) -> None:
        response = page.goto(base + path)
        assert response is not None and response.status < 500, (path, response and response.status)
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy and "style-src 'self'" in policy, path
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        page.wait_for_load_state("networkidle")
        if page.locator(".katex").count():
            math_seen.append(path)

    for path in ("/accounts/login/", "/accounts/signup/"):
        visit(path)
    visit("/accounts/login/")
    page.fill("input[name=username]", "grace")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")

    visit("/")
    visit("/skills/")
    for select in page.locator("select").all():
        select.select_option(index=3)
    for group in {r.get_attribute("name") for r in page.locator("input[type=radio]").all()}:
        page.locator(f"input[type=radio][name='{group}']").nth(2).check()
    page.get_by_role("button", name="Save my ratings").click()
    page.wait_for_load_state("networkidle")
    assert SkillRatingSnapshot.objects.exists()
    visit("/skills/history/")
    wait_in_page(page, "document.querySelector('canvas.skill-chart, canvas') !== null")
    assert page.evaluate("typeof Chart") == "function"
    snapshot = SkillRatingSnapshot.objects.first()
    visit(f"/skills/snapshots/{snapshot.pk}/")

    visit("/plan/")
    page.locator("#start-plan").click()
    page.wait_for_load_state("networkidle")
    visit("/plan/")
    visit("/due/")
    visit("/")

    visit("/practice/")
    part = Part.objects.filter(chapter=bank).order_by("order").first()
    visit(f"/practice/{part.slug}/")
    # KaTeX ran over the page; htmx is loaded and answers the card in place.
    wait_in_page(page, "typeof htmx !== 'undefined' && typeof katex !== 'undefined'")
    for n in range(1, 4):
        visit(f"/practice/{part.slug}/?n={n}")
    for problem in Problem.objects.filter(chapter=bank):
        visit(f"/problems/{problem.slug}/")
    assert math_seen, "KaTeX rendered no math on any practice or problem page"

    visit("/exercises/")
    visit("/exercises/se-block/")
    page.wait_for_selector(".cm-editor")  # CodeMirror replaced the textarea

    visit("/mock/")
    script = MockScript.objects.filter(retired=False).first()
    page.locator(f"form[action='/mock/{script.slug}/start/'] button").first.click()
    page.wait_for_load_state("networkidle")
    assert re.search(r"/mock/attempt/\d+/$", page.url), page.url
    page.wait_for_load_state("networkidle")

    visit("/accounts/settings/")
    visit("/accounts/api-tokens/")
    visit("/accounts/password/")
    visit("/no-such-page/")

    assert problems == [], "\n".join(problems)
