"""The lab from the exercise page in a real Chromium, run by a real Celery worker on the
lab queue in the Docker sandbox: a short lab (one depth, a tiny budget, set through
LAB_SETTINGS for this test) shows a progress bar per network and its curves as they
come, then the finished charts; the paper discussion's opening then draws the learner's
own curves. Screenshots go to the test artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from tests.conftest import wait_in_page
from tests.grading.conftest import celery_worker

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.docker,
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = (ROOT / "grading/exercises/basic_block/reference.py").read_text()
# Long enough for the page to see it under way, short enough for CI (seconds per network).
SHORT_LAB = {"ns": [1], "steps": 200, "batch": 32, "every": 10}

# The charts' data as Chart.js holds it: [canvas id, [points per dataset]] for each.
CHART_POINTS = """() => ["lab-loss", "lab-grads", "lab-error"].map((id) => {
  const canvas = document.getElementById(id);
  const chart = canvas && Chart.getChart(canvas);
  return [id, chart ? chart.data.datasets.map((d) => d.data.filter((v) => v !== null).length)
                    : null];
})"""


@pytest.fixture
def lab_worker(postgres, redis_url, sandbox_image, artifacts_dir):
    """A `celery worker` on the lab queue only, as a CPU-only deployment runs it."""
    log_path = artifacts_dir / "e2e-lab-worker.log"
    with celery_worker(postgres, redis_url, sandbox_image, log_path, queues="lab.cpu",
                       env={"LAB_PROGRESS_EVERY_S": "0.5"}) as log:  # fmt: skip
        yield log


def test_a_short_lab_streams_progress_then_draws_its_charts(
    live_server, browser, lab_worker, settings, django_user_model, artifacts_dir
):
    from grading.models import Submission
    from interviews import services as mock_services
    from lab.models import LabRun
    from quizbank.models import Item, MockStep
    from tests.learning.factories_learner import make_content

    settings.LAB_SETTINGS = SHORT_LAB
    user = django_user_model.objects.create_user(username="deep", password="browser-pass-1")
    Submission.objects.create(user=user, exercise="basic-block", code=REFERENCE,
                              kind="submit", status="passed")  # fmt: skip
    shots = artifacts_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console", lambda m: errors.append(f"{m.text} {m.location}") if m.type == "error" else None
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "deep")
    page.fill("input[name=password]", "browser-pass-1")
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    page.wait_for_load_state()

    # Before any lab run, the paper discussion's opening figure is a labelled schematic.
    script = make_content().mock
    script.kind = "paper_discussion"
    script.save()
    MockStep.objects.create(script=script, order=0, item=Item.objects.first())
    attempt = mock_services.mock_start(user=user, script=script)
    page.goto(live_server.url + reverse("mock-attempt", args=[attempt.pk]))
    figure = page.locator("#depth-figure")
    assert figure.get_attribute("data-source") == "schematic"
    assert figure.locator("svg").is_visible() and "Schematic, not data" in figure.inner_text()
    figure.screenshot(path=str(shots / "mock-paper-schematic.png"))

    page.goto(f"{live_server.url}/exercises/basic-block/")
    page.get_by_role("button", name="Run it deep").click()
    # Under way: a bar per network, one of them part-way, and the loss curve so far.
    wait_in_page(
        page,
        """() => { const bars = [...document.querySelectorAll("#lab-panel progress")];
             return bars.length === 2 && bars.some((b) => b.value > 0 && b.value < b.max); }""",
        timeout=120_000,
    )
    assert LabRun.objects.get().status == "running"
    wait_in_page(
        page,
        "() => !!document.getElementById('lab-loss') && "
        "!!Chart.getChart(document.getElementById('lab-loss'))",
        timeout=10_000,
    )
    partial = dict(page.evaluate(CHART_POINTS))
    page.screenshot(path=str(shots / "lab-running.png"), full_page=True)
    assert max(partial["lab-loss"]) > 0, partial  # curves drawn as they come
    assert max(partial["lab-loss"]) < SHORT_LAB["steps"] // SHORT_LAB["every"] or (
        min(partial["lab-loss"]) < SHORT_LAB["steps"] // SHORT_LAB["every"]
    ), partial  # not finished yet: some network still has points to come

    # Finished: the panel stops polling and draws the final curves and what they show.
    page.wait_for_selector("#lab-panel:not([hx-get]) table.tests", timeout=180_000)
    run = LabRun.objects.get()
    assert run.status == "done", run.detail
    final = dict(page.evaluate(CHART_POINTS))
    assert final == {"lab-loss": [20, 20], "lab-grads": [3, 3], "lab-error": None}, final
    text = page.locator("#lab-panel").inner_text()
    assert "plain, 8 layers" in text and "residual, 8 layers" in text
    assert "What this run shows" in text
    assert page.locator("#lab-panel progress").count() == 0
    page.screenshot(path=str(shots / "lab-finished.png"), full_page=True)

    # Now the paper discussion opens with this learner's own training-error curves.
    page.goto(live_server.url + reverse("mock-attempt", args=[attempt.pk]))
    wait_in_page(page, "() => !!Chart.getChart(document.getElementById('lab-error'))",
                 timeout=10_000)  # fmt: skip
    figure = dict(page.evaluate(CHART_POINTS))
    assert figure["lab-error"] == [20, 20], figure
    assert f"lab run #{run.pk}" in page.locator("#depth-figure").inner_text()
    page.locator("#depth-figure").screenshot(path=str(shots / "mock-paper-figure.png"))
    assert errors == []
