"""End to end: HTTP -> Postgres -> Redis -> a real Celery worker process -> Docker sandbox.

The worker (fixture `worker`) is started with DATABASE_URL naming pytest-django's test
database, so it sees the rows this test commits (hence transaction=True), and takes its
messages from the Redis broker named by CELERY_BROKER_URL.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from accounts import services as account_services
from grading import services
from grading.models import Submission
from tests.grading.conftest import SE_BLOCK_SOLUTION, all_slugs, reference_solution

FINAL = {"passed", "failed", "error", "sandbox_error"}

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.docker,
    pytest.mark.django_db(transaction=True),
]


def wait_for_verdict(get, timeout: float = 300.0) -> dict:
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        body = get()
        if body["status"] in FINAL:
            return body
        time.sleep(0.1)
    pytest.fail(f"no verdict within {timeout} s; last state {body}")


def test_submissions_over_http_reach_their_verdicts_through_a_real_worker(
    django_user_model, live_server, artifacts_dir, request, settings
):
    settings.GRADING_MAX_ACTIVE = 50  # this test keeps several runs in flight at once
    user = django_user_model.objects.create_user(username="e2e", password="e2e-password-1")
    _token, key = account_services.api_token_create(user=user)

    # A row whose message was lost before this worker started: its start-up sweep sends it.
    lost = services.submission_create(
        user=user, exercise="se-block", code=SE_BLOCK_SOLUTION, kind="sample", enqueue=False
    )
    Submission.objects.filter(pk=lost.pk).update(deadline=timezone.now() - timedelta(seconds=1))

    worker_log = request.getfixturevalue("worker")
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {key}"

    def get(pk):
        response = api.get(f"{live_server.url}/api/submissions/{pk}", timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def submit(slug, code):
        response = api.post(
            f"{live_server.url}/api/submissions", json={"exercise": slug, "code": code}, timeout=10
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    recovered = wait_for_verdict(lambda: get(lost.pk))
    assert recovered["status"] == "passed", recovered

    # The measured one: the worker is warm (torch imported) after the recovered row.
    started = time.monotonic()
    submission_id = submit("se-block", SE_BLOCK_SOLUTION)
    verdict = wait_for_verdict(lambda: get(submission_id))
    elapsed = time.monotonic() - started

    assert verdict["status"] == "passed", verdict
    assert verdict["score"] == 1.0 and verdict["passed"] == verdict["total"] > 0
    assert all(test["passed"] for test in verdict["tests"])
    assert {t["category"] for t in verdict["tests"]} >= {"shape", "params", "gradient"}
    row = Submission.objects.get(pk=submission_id)
    assert row.backend == "docker" and row.attempts == 0
    assert "grading.grade_submission[" in worker_log.read_text()

    # Every exercise, queued at once, through the same worker.
    batch_started = time.monotonic()
    ids = {slug: submit(slug, reference_solution(slug)) for slug in all_slugs()}
    verdicts = {slug: wait_for_verdict(lambda pk=pk: get(pk)) for slug, pk in ids.items()}
    batch_elapsed = time.monotonic() - batch_started
    assert {slug: v["status"] for slug, v in verdicts.items()} == dict.fromkeys(ids, "passed")
    assert all(v["score"] == 1.0 for v in verdicts.values())

    line = (
        f"submit-to-verdict over the API: {elapsed:.2f} s for se-block (engine wall "
        f"{verdict['wall_s']:.2f} s, warm worker, Docker sandbox); all eight queued at once: "
        f"{batch_elapsed:.1f} s on one worker ("
        + ", ".join(f"{slug} {v['wall_s']:.1f} s" for slug, v in verdicts.items())
        + ")"
    )
    print(line)
    (artifacts_dir / "e2e-submit-to-verdict.txt").write_text(line + "\n")


def test_the_exercise_page_form_reaches_its_verdict_through_a_real_worker(
    django_user_model, live_server, worker
):
    """The browser's path without a browser: a session, the htmx form post, the fragment."""
    django_user_model.objects.create_user(username="e2e", password="e2e-password-1")
    browser = requests.Session()
    login = browser.get(f"{live_server.url}/accounts/login/", timeout=10)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    browser.post(
        f"{live_server.url}/accounts/login/",
        data={"username": "e2e", "password": "e2e-password-1", "csrfmiddlewaretoken": csrf},
        headers={"Referer": f"{live_server.url}/accounts/login/"},
        timeout=10,
    )
    page = browser.get(f"{live_server.url}/exercises/se-block/", timeout=10)
    assert page.status_code == 200 and 'id="code"' in page.text
    started = time.monotonic()
    fragment = browser.post(
        f"{live_server.url}/exercises/se-block/submit",
        data={
            "code": SE_BLOCK_SOLUTION,
            "kind": "sample",
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
        },  # fmt: skip
        headers={"HX-Request": "true", "Referer": page.url},
        timeout=10,
    )
    assert fragment.status_code == 200 and 'hx-trigger="load delay:' in fragment.text
    status_url = re.search(r'hx-get="([^"]+)"', fragment.text).group(1)
    while 'hx-trigger="load delay:' in fragment.text:
        assert time.monotonic() - started < 300, "no verdict on the page"
        time.sleep(0.2)
        fragment = browser.get(f"{live_server.url}{status_url}", timeout=10)
    assert 'data-status="passed"' in fragment.text and "All " in fragment.text
    assert 'hx-swap-oob="true"' in fragment.text  # the attempts list is refreshed too
