"""The exercise page in Chromium: on a wide screen the statement and the editor side by
side, on a phone one column without a sideways scroll; a failed verdict opens with its
summary and first cause, the per-test table below. The verdict is a stored one (its tests
written as the worker writes them), so no sandbox runs here. Screenshots go to
artifacts_dir/screenshots/exercise-*.png."""

from __future__ import annotations

import pytest
from django.utils import timezone

from grading.models import Submission, TestResult
from tests.conftest import logged_in_context, wait_in_page
from tests.learning.factories_learner import make_content, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIRST_CAUSE = "output differs from the reference: max abs error 0.73 at [0, 3, 1, 1]"


@pytest.fixture
def shots(artifacts_dir):
    folder = artifacts_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _failed_submission(user) -> Submission:
    submission = Submission.objects.create(
        user=user,
        exercise="basic-block",
        code="import torch\n",
        status=Submission.Status.FAILED,
        score=2 / 40,
        passed=2,
        total=40,
        message="2 of 40 tests passed.",
        stderr_excerpt="Traceback (most recent call last):\n" + "  frame\n" * 30,
        finished_at=timezone.now(),
        wall_s=2.4,
    )
    rows = [("imports", "shape", True, ""), ("shape-64", "shape", True, "")]
    rows.append(("output-stride-1", "value", False, FIRST_CAUSE))
    rows += [(f"case-{n}", "gradient", False, f"gradient differs in case {n}") for n in range(37)]
    for order, (name, category, passed, message) in enumerate(rows):
        TestResult.objects.create(
            submission=submission,
            order=order,
            name=name,
            category=category,
            passed=passed,
            message=message,
        )
    return submission


def _context(browser, live_server, user, **options):
    return logged_in_context(browser, live_server, user, **options)


def _box(page, selector):
    return page.locator(selector).first.bounding_box()


def test_wide_screen_side_by_side_and_the_first_cause_first(browser, live_server, shots):
    make_content()
    ada = make_user("ada")
    submission = _failed_submission(ada)
    context = _context(browser, live_server, ada, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/exercises/basic-block/?submission={submission.pk}")
    wait_in_page(page, "() => document.querySelector('.exercise-editor .cm-editor')")
    statement, editor = _box(page, "article.statement"), _box(page, ".exercise-editor .cm-editor")
    assert statement["x"] + statement["width"] <= editor["x"]  # left of the editor
    assert abs(statement["y"] - editor["y"]) < 120  # beside it, not above it
    assert editor["y"] < 900 and editor["width"] > 600  # in the first screen, and wide

    first, table = _box(page, "#first-cause"), _box(page, "table.tests")
    summary = _box(page, "#verdict-body h2")
    assert summary["y"] < first["y"] < table["y"]
    cause = page.locator("#first-cause").inner_text()
    assert "output-stride-1" in cause and FIRST_CAUSE in cause
    assert page.locator("details.error-output").get_attribute("open") is None
    assert page.locator("table.tests tbody tr").count() == 40
    page.locator("#verdict").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "exercise-wide.png"))
    assert errors == []
    context.close()


def test_a_phone_gets_one_column(browser, live_server, shots):
    make_content()
    ada = make_user("ada")
    context = _context(
        browser, live_server, ada, viewport={"width": 375, "height": 740}, is_mobile=True
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/exercises/basic-block/")
    wait_in_page(page, "() => document.querySelector('.exercise-editor .cm-editor')")
    assert page.evaluate("() => window.innerWidth") == 375
    assert page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    statement, editor = _box(page, "article.statement"), _box(page, ".exercise-editor .cm-editor")
    assert statement["y"] + statement["height"] <= editor["y"]
    assert editor["x"] >= 0 and editor["x"] + editor["width"] <= 375
    page.screenshot(path=str(shots / "exercise-phone.png"), full_page=True)
    context.close()
