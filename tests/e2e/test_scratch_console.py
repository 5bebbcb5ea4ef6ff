"""The scratch console in a real Chromium, run by a real Celery worker in the Docker
sandbox: open it under the editor, run a script that builds the learner's block and
prints a shape, read stdout on the page; Submit and Run stay usable meanwhile.
Screenshot: artifacts_dir/screenshots/scratch-console.png."""

from __future__ import annotations

import pytest

from tests.conftest import logged_in_context, wait_in_page
from tests.grading.conftest import SE_BLOCK_SOLUTION, worker  # noqa: F401 - the worker fixture
from tests.learning.factories_learner import make_user

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.docker,
    pytest.mark.django_db(transaction=True),
]

SCRIPT = """import torch
from solution import SEBlock
print("out", tuple(SEBlock(8, reduction=2)(torch.zeros(1, 8, 3, 3)).shape))
"""


def test_a_script_runs_against_the_editors_code(browser, live_server, worker, artifacts_dir):  # noqa: F811
    shots = artifacts_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    user = make_user("ada")
    context = logged_in_context(browser, live_server, user, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/exercises/se-block/")
    # The code goes in through the editor, as a learner types it (the textarea follows).
    page.evaluate(
        "code => { const v = window.exerciseEditor;"
        " v.dispatch({changes: {from: 0, to: v.state.doc.length, insert: code}}); }",
        SE_BLOCK_SOLUTION,
    )
    page.locator("#scratch > summary").click()
    page.locator("#scratch-script").fill(SCRIPT)
    page.get_by_role("button", name="Run script").click()
    wait_in_page(
        page,
        "document.querySelector('#scratch-body[data-final=\"1\"]') !== null",
        timeout=120_000,
    )
    # The output replaced itself in the console, nothing else (an inherited hx-target once
    # sent it over the verdict section).
    assert page.locator("#scratch-body").count() == 1 and page.locator("#verdict").count() == 1
    output = page.locator("#scratch-output").inner_text()
    assert "out (1, 8, 3, 3)" in output and "Finished" in output
    # A scratch run is not a grading: Submit stays enabled.
    assert page.get_by_role("button", name="Submit", exact=True).is_enabled()
    page.screenshot(path=str(shots / "scratch-console.png"), full_page=True)
    assert errors == []
    context.close()
