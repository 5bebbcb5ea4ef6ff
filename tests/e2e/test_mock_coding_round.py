"""The implementation round in a real Chromium, graded by a real Celery worker in the
Docker sandbox: write code in the attempt, run the sample tests, see the verdict on the
attempt page, submit the mock and find the final grading beside the code in the review.
Screenshots go to artifacts_dir/screenshots/mock-coding-*.png."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from interviews.models import MockAttempt, MockRun
from quizbank.models import MockScript, MockStep
from tests.conftest import wait_in_page
from tests.grading.conftest import reference_solution, worker  # noqa: F401 - the worker fixture
from tests.learning.factories_learner import make_content, make_user

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.docker,
    pytest.mark.django_db(transaction=True),
]

FINAL = "document.querySelector('#mock-verdict-%d #verdict-body[data-final=\"1\"]') !== null"


def test_a_coding_round_is_graded_inside_the_mock(browser, live_server, worker, artifacts_dir):  # noqa: F811
    shots = artifacts_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    content = make_content()
    script = MockScript.objects.create(
        chapter=content.chapter, slug="coding", title="Coding round", kind="implementation",
        intro="Implement the basic block.", duration_s=900, order=7,
    )  # fmt: skip
    step = MockStep.objects.create(script=script, order=1, exercise=content.exercise)
    user = make_user("ada")
    client = Client()
    client.force_login(user)
    started = client.post(f"/mock/{script.slug}/start/", {"time": "standard"})
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}{started['Location']}")

    box = page.locator(f"#text-{step.pk}")
    assert "class BasicBlock" in box.input_value()  # the starter code
    box.fill(reference_solution("basic-block"))
    page.get_by_role("button", name="Run sample tests").click()
    wait_in_page(page, FINAL % step.pk, timeout=180_000)
    verdict = page.locator(f"#mock-verdict-{step.pk}")
    assert verdict.locator("#verdict-body").get_attribute("data-status") == "passed"
    page.screenshot(path=str(shots / "mock-coding-1-sample.png"), full_page=True)

    attempt = MockAttempt.objects.get(user=user, script=script)
    assert MockRun.objects.get(attempt=attempt).submission.kind == "sample"
    page.locator("#mock-submit").click()
    page.wait_for_url(re.compile(r"/review$"))
    # The last saved code was never submitted during the mock: the end grades it.
    wait_in_page(page, FINAL % step.pk, timeout=180_000)
    review = page.locator(f"#mock-verdict-{step.pk}")
    assert "graded when the mock ended" in review.inner_text()
    assert review.locator("#verdict-body").get_attribute("data-status") == "passed"
    assert "class BasicBlock" in page.locator(".your-code").inner_text()
    page.screenshot(path=str(shots / "mock-coding-2-review.png"), full_page=True)
    final = MockRun.objects.get(attempt=attempt, at_end=True).submission
    assert (final.kind, final.status) == ("submit", "passed")
    assert errors == []
    context.close()
