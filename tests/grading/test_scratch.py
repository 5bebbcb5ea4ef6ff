"""The scratch console: the learner's own script against their code, in the sandbox,
with raw stdout and stderr shown back; nothing graded, nothing hidden inside."""

from __future__ import annotations

import re
import time

import pytest
import requests

from grading import scratch
from grading.models import ScratchRun
from tests.grading.conftest import SE_BLOCK_SOLUTION

SHAPE_SCRIPT = """\
import os
import torch
from solution import SEBlock

block = SEBlock(16, reduction=4)
print("shape", tuple(block(torch.randn(2, 16, 5, 5)).shape))
print("files", sorted(os.listdir(".")))
"""


def _create(user, script=SHAPE_SCRIPT, code=SE_BLOCK_SOLUTION, exercise="se-block"):
    return scratch.scratch_create(user=user, exercise=exercise, code=code, script=script)


# ------------------------------------------------------------------ refusals and queueing


@pytest.mark.django_db
def test_a_run_is_stored_and_queued_by_name_on_the_cpu_queue(
    learner, broker, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        run = _create(learner)
    [sent] = broker.take("grade.cpu")
    assert (sent.task, sent.args) == ("grading.run_scratch", [run.pk])
    assert run.status == "queued" and run.script == SHAPE_SCRIPT and not broker.take("grade.gpu")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("script", "code", "exercise", "reason"),
    [
        ("   \n", SE_BLOCK_SOLUTION, "se-block", "The script is empty"),
        ("x = 1\n" * 2000, SE_BLOCK_SOLUTION, "se-block", "at most 8,192 bytes"),
        (b"print(1)\xff\n", SE_BLOCK_SOLUTION, "se-block", "not valid UTF-8"),
        ("print(1)\x00", SE_BLOCK_SOLUTION, "se-block", "NUL"),
        ("print(1)", "", "se-block", "The code is empty"),
        ("print(1)", "x" * 70_000, "se-block", "the limit is 65,536 bytes"),
        ("print(1)", SE_BLOCK_SOLUTION, "no-such-exercise", "no exercise named"),
    ],
)
def test_what_cannot_run_is_refused_with_the_reason_and_nothing_is_stored(
    learner, broker, script, code, exercise, reason
) -> None:
    with pytest.raises(scratch.ScratchRefused, match=reason) as refused:
        _create(learner, script=script, code=code, exercise=exercise)
    assert "queued" not in str(refused.value)  # the console says "run", not "queued"
    assert not ScratchRun.objects.exists() and not broker.all()


@pytest.mark.django_db
def test_one_run_at_a_time_per_learner(
    learner, other_learner, broker, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first = _create(learner)
        with pytest.raises(scratch.ScratchRefused, match="still running"):
            _create(learner)
        _create(other_learner)  # someone else's run does not count
    ScratchRun.objects.filter(pk=first.pk).update(status="done")
    _create(learner)
    assert ScratchRun.objects.filter(user=learner).count() == 2


@pytest.mark.django_db
def test_runs_are_rate_limited_per_learner(settings, learner, broker) -> None:
    from accounts.limits import RateLimited

    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "scratch": "2/hour"}
    for _ in range(2):
        ScratchRun.objects.filter(user=learner).update(status="done")
        _create(learner)
    ScratchRun.objects.filter(user=learner).update(status="done")
    with pytest.raises(RateLimited) as limited:
        _create(learner)
    assert limited.value.retry_after_s > 0 and ScratchRun.objects.count() == 2


@pytest.mark.django_db
def test_only_the_latest_runs_are_kept(learner, broker) -> None:
    for _ in range(scratch.KEEP_PER_LEARNER + 3):
        ScratchRun.objects.filter(user=learner).update(status="done")
        _create(learner)
    assert ScratchRun.objects.filter(user=learner).count() == scratch.KEEP_PER_LEARNER


@pytest.mark.django_db
def test_with_the_broker_down_the_run_says_so_at_once(
    learner, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    from config.celery_app import app

    url = "redis://127.0.0.1:9/0"  # the discard port: connection refused
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    old = app.conf.broker_url
    app.conf.broker_url = url
    app._after_fork()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            run = _create(learner)
    finally:
        app.conf.broker_url = old
        app._after_fork()
    run.refresh_from_db()
    assert run.status == "failed" and run.outcome == "not_queued"
    assert "run the script again" in run.stderr


@pytest.mark.django_db
def test_a_run_active_long_past_its_limits_is_shown_as_lost(learner, broker) -> None:
    from datetime import timedelta

    from django.utils import timezone

    run = _create(learner)
    assert not scratch.scratch_is_lost(run)
    ScratchRun.objects.filter(pk=run.pk).update(
        status="running", started_at=timezone.now() - timedelta(hours=1)
    )
    run.refresh_from_db()
    assert scratch.scratch_is_lost(run)


def test_the_job_has_the_grading_jobs_shape_so_warm_sandboxes_serve_it() -> None:
    """The warm pool keys containers by (image, limits, env, command): the same argv and
    environment as a grading job let a pooled sandbox serve a scratch run."""
    from grading import engine

    plan = engine._registry()["se-block"].build(seed=1, sample=True)
    job = engine.job_build(plan=plan, source="x = 1", nonce="n")
    assert scratch.COMMAND == job.command and scratch.JOB_ENV == job.env


# ------------------------------------------------------------------ pages


@pytest.mark.django_db
def test_the_exercise_page_offers_the_console_with_a_starter_script(client, learner) -> None:
    client.force_login(learner)
    page = client.get("/exercises/se-block/").content.decode()
    assert 'id="scratch-script"' in page and "from solution import" in page
    assert "nothing is graded" in page


@pytest.mark.django_db
def test_the_htmx_post_answers_the_polling_fragment_and_refusals_in_place(
    client, learner, broker
) -> None:
    client.force_login(learner)
    url = "/exercises/se-block/scratch"
    fragment = client.post(
        url, {"code": SE_BLOCK_SOLUTION, "script": SHAPE_SCRIPT}, headers={"HX-Request": "true"}
    ).content.decode()
    run = ScratchRun.objects.get()
    assert f'hx-get="/scratch/{run.pk}/status"' in fragment and "Waiting for a worker" in fragment
    again = client.post(
        url, {"code": SE_BLOCK_SOLUTION, "script": SHAPE_SCRIPT}, headers={"HX-Request": "true"}
    )
    assert again.status_code == 200 and "still running" in again.content.decode()
    # Without JavaScript: a redirect to the page, which shows the run below the editor.
    ScratchRun.objects.update(status="done", outcome="ok", stdout="hello from the box")
    plain = client.post(url, {"code": SE_BLOCK_SOLUTION, "script": "print(2)"})
    newest = ScratchRun.objects.first()
    assert plain.status_code == 302 and plain["Location"].endswith(f"?scratch={newest.pk}#scratch")
    refused = client.post(url, {"code": SE_BLOCK_SOLUTION, "script": "   "})
    assert refused.status_code == 422 and "The script is empty" in refused.content.decode()


@pytest.mark.django_db
def test_a_finished_run_shows_its_streams_escaped(client, learner, broker) -> None:
    client.force_login(learner)
    run = _create(learner)
    ScratchRun.objects.filter(pk=run.pk).update(
        status="done", outcome="runtime_error", exit_code=1,
        stdout="<script>alert(1)</script>", stderr="Traceback ...\nValueError: boom",
    )  # fmt: skip
    body = client.get(f"/scratch/{run.pk}/status").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>alert" not in body
    assert (
        "Stopped with an error" in body and "(exit code 1)" in body and "ValueError: boom" in body
    )
    assert "hx-get" not in body  # final: no more polling


@pytest.mark.django_db
def test_another_learners_run_is_404(client, learner, other_learner, broker) -> None:
    run = _create(other_learner)
    client.force_login(learner)
    assert client.get(f"/scratch/{run.pk}/status").status_code == 404
    assert client.get(f"/exercises/se-block/?scratch={run.pk}").status_code == 404


# ------------------------------------------------------------------ in the real sandbox


@pytest.mark.docker
@pytest.mark.django_db
def test_the_script_runs_against_the_learners_code_in_the_sandbox(
    settings, learner, broker, sandbox_image
) -> None:
    settings.SANDBOX_BACKEND, settings.SANDBOX_IMAGE = "docker", sandbox_image
    run = _create(learner)
    scratch.scratch_run(run_id=run.pk)
    run.refresh_from_db()
    assert (run.status, run.outcome, run.exit_code) == ("done", "ok", 0), run.stderr
    assert "shape (2, 16, 5, 5)" in run.stdout
    # Nothing but the learner's own files and the runner: no probe, input or reference.
    assert "files ['harness.py', 'scratch.py', 'solution.py']" in run.stdout
    assert run.backend == "docker" and run.wall_s > 0
    scratch.scratch_run(run_id=run.pk)  # a redelivered message changes nothing
    assert ScratchRun.objects.get(pk=run.pk).stdout == run.stdout


@pytest.mark.docker
@pytest.mark.django_db
def test_errors_and_floods_come_back_as_raw_bounded_text(
    settings, learner, broker, sandbox_image
) -> None:
    settings.SANDBOX_BACKEND, settings.SANDBOX_IMAGE = "docker", sandbox_image
    failing = _create(learner, script="from solution import SEBlock\nraise ValueError('boom')\n")
    scratch.scratch_run(run_id=failing.pk)
    failing.refresh_from_db()
    assert failing.outcome == "runtime_error" and failing.exit_code != 0
    assert "Traceback" in failing.stderr and 'scratch.py", line 2' in failing.stderr
    flood = _create(
        learner, script="import sys\nsys.stdout.write('x' * 40000 + chr(0))\nprint('end')\n"
    )
    scratch.scratch_run(run_id=flood.pk)
    flood.refresh_from_db()
    assert flood.outcome == "ok" and flood.stdout_truncated
    assert len(flood.stdout.encode()) <= scratch.SHOWN_BYTES and "end" not in flood.stdout


@pytest.mark.docker
@pytest.mark.django_db
def test_without_a_sandbox_the_run_fails_with_the_reason(settings, learner, broker) -> None:
    settings.SANDBOX_BACKEND = "none"
    run = _create(learner)
    scratch.scratch_run(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "failed" and "No sandbox can run code" in run.stderr


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_the_console_through_the_page_and_a_real_worker(django_user_model, live_server, worker):
    django_user_model.objects.create_user(username="scratcher", password="scratch-password-1")
    browser = requests.Session()
    login = browser.get(f"{live_server.url}/accounts/login/", timeout=10)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    browser.post(
        f"{live_server.url}/accounts/login/",
        data={"username": "scratcher", "password": "scratch-password-1",
              "csrfmiddlewaretoken": csrf},
        headers={"Referer": f"{live_server.url}/accounts/login/"},
        timeout=10,
    )  # fmt: skip
    page = browser.get(f"{live_server.url}/exercises/se-block/", timeout=10)
    fragment = browser.post(
        f"{live_server.url}/exercises/se-block/scratch",
        data={"code": SE_BLOCK_SOLUTION, "script": SHAPE_SCRIPT,
              "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"HX-Request": "true", "Referer": page.url},
        timeout=10,
    )  # fmt: skip
    status_url = re.search(r'hx-get="([^"]+)"', fragment.text).group(1)
    started = time.monotonic()
    while 'data-final="0"' in fragment.text:
        assert time.monotonic() - started < 120, "no output on the page"
        time.sleep(0.2)
        fragment = browser.get(f"{live_server.url}{status_url}", timeout=10)
    assert "shape (2, 16, 5, 5)" in fragment.text and "Finished" in fragment.text
