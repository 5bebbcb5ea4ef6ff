"""The exercise pages in a real Chromium, graded by a real worker in the Docker sandbox.

Every exercise is solved through the page: CodeMirror holds the code, htmx posts it and
polls the verdict. Also: the code survives a reload as typed, and math renders.
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import wait_in_page
from tests.grading.conftest import all_slugs, reference_solution

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.docker,
    pytest.mark.django_db(transaction=True),
]

VERDICT_TIMEOUT_MS = 300_000  # the builder makes five full networks on a shared CPU


@pytest.fixture
def page(browser, live_server, django_user_model):
    django_user_model.objects.create_user(username="learner", password="browser-pass-1")
    page = browser.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "learner")
    page.fill("input[name=password]", "browser-pass-1")
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    page.wait_for_load_state()
    return page


def editor_text(page) -> str:
    return page.evaluate("() => window.exerciseEditor.state.doc.toString()")


def set_editor_text(page, text: str) -> None:
    page.evaluate(
        """(text) => { const view = window.exerciseEditor;
             view.dispatch({changes: {from: 0, to: view.state.doc.length, insert: text}}); }""",
        text,
    )


def click_and_wait_for_verdict(page, button: str) -> tuple[str, float]:
    """Click, then wait for the verdict of the new submission (not the one shown before)."""
    shown = page.locator("#verdict-body")
    before = shown.get_attribute("data-submission") if shown.count() else ""
    started = time.monotonic()
    page.get_by_role("button", name=button, exact=True).click()
    wait_in_page(
        page,
        """(before) => { const v = document.querySelector("#verdict-body");
             return v && v.dataset.submission !== before &&
               ["passed", "failed", "error", "sandbox_error"].includes(v.dataset.status); }""",
        arg=before,
        timeout=VERDICT_TIMEOUT_MS,
    )
    elapsed = time.monotonic() - started
    return page.locator("#verdict-body").get_attribute("data-status"), elapsed


@pytest.fixture
def statement():
    from quizbank.models import Chapter, ExerciseStatement, Part

    chapter = Chapter.objects.create(slug="resnet", title="ResNet", version="1")
    part = Part.objects.create(chapter=chapter, slug="se", title="SE", order=1)
    return ExerciseStatement.objects.create(
        chapter=chapter, part=part, slug="se-block", title="Squeeze and excite",
        statement="The gate is $g = \\sigma(W_2 \\delta(W_1 s))$, one value per channel.",
    )  # fmt: skip


# Fixture order matters: rows are written and the worker started before Playwright runs
# its event loop, and the page closes before the worker stops. ORM calls made inside that
# loop would use connections of their own that outlive the test database.
def test_every_exercise_is_solved_through_the_page(
    statement, worker, page, live_server, artifacts_dir
):
    shots = artifacts_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)

    page.goto(f"{live_server.url}/exercises/")
    assert page.locator("table tbody tr").count() == 8
    page.screenshot(path=str(shots / "exercises-list.png"), full_page=True)

    # Code as typed survives a reload, before anything is submitted.
    page.goto(f"{live_server.url}/exercises/se-block/")
    page.wait_for_selector(".cm-editor")
    assert "raise NotImplementedError" in editor_text(page)
    assert page.locator(".statement .katex").count() == 1  # KaTeX rendered the math
    page.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n# typed before the reload")
    page.reload()
    page.wait_for_selector(".cm-editor")
    assert "# typed before the reload" in editor_text(page)

    # The sample tests first, then a submission of every exercise.
    set_editor_text(page, reference_solution("se-block"))
    status, _ = click_and_wait_for_verdict(page, "Run sample tests")
    assert status == "passed"
    times = {}
    assert "Sample tests" in page.locator("#verdict").inner_text()

    # A run that raises inside forward: Submit and Run are disabled while it is graded,
    # and the line the error points at is marked in the editor afterwards.
    broken = reference_solution("se-block").replace(
        "    def forward(self, x):", "    def forward(self, x):\n        raise ValueError('boom')"
    )
    raise_line = broken.splitlines().index("        raise ValueError('boom')") + 1
    set_editor_text(page, broken)
    before = page.locator("#verdict-body").get_attribute("data-submission")
    page.get_by_role("button", name="Submit", exact=True).click()
    wait_in_page(
        page,
        """() => [...document.querySelectorAll('button[name="kind"]')].every(b => b.disabled)""",
    )
    assert page.locator("#pending-note").is_visible()
    wait_in_page(
        page,
        """(before) => { const v = document.querySelector("#verdict-body");
             return v && v.dataset.submission !== before && v.dataset.final === "1"; }""",
        arg=before,
        timeout=VERDICT_TIMEOUT_MS,
    )
    assert page.locator("#verdict-body").get_attribute("data-error-line") == str(raise_line)
    assert not page.get_by_role("button", name="Submit", exact=True).is_disabled()
    marked = page.locator(".cm-lintRange-error")
    marked.first.wait_for()
    assert marked.first.inner_text().strip() == "raise ValueError('boom')"
    assert page.locator(".cm-lint-marker-error").count() == 1
    assert f"line {raise_line}" in page.locator("#verdict").inner_text()

    for slug in all_slugs():
        page.goto(f"{live_server.url}/exercises/{slug}/")
        page.wait_for_selector(".cm-editor")
        set_editor_text(page, reference_solution(slug))
        status, times[slug] = click_and_wait_for_verdict(page, "Submit")
        assert status == "passed", (slug, page.locator("#verdict-body").inner_text())
        rows = page.locator("#verdict table.tests tbody tr")
        assert rows.count() > 0 and page.locator("#verdict td.fail").count() == 0
        assert "Passed" in page.locator("#attempts").inner_text()  # refreshed out of band
        page.screenshot(path=str(shots / f"exercise-{slug}-passed.png"), full_page=True)

    page.goto(f"{live_server.url}/exercises/")
    assert page.locator("table tbody td .pass").count() == 8  # 100% everywhere
    line = "browser submit-to-verdict (click to verdict shown): " + ", ".join(
        f"{slug} {seconds:.1f} s" for slug, seconds in times.items()
    )
    print(line)
    (artifacts_dir / "browser-submit-to-verdict.txt").write_text(line + "\n")
