"""The JSON API: token and session auth, isolation between learners, refused input."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from accounts import services as account_services
from grading import flow, services
from grading.models import Submission
from tests.grading.conftest import SE_BLOCK_SOLUTION, SE_BLOCK_SYNTAX_ERROR

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(learner):
    _token, key = account_services.api_token_create(user=learner)
    return key


def post(client, body, *, token=None, raw=None, headers_key=None, **extra):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if headers_key is not None:
        headers["Idempotency-Key"] = headers_key
    return client.post(
        "/api/submissions",
        raw if raw is not None else json.dumps(body),
        content_type="application/json",
        headers=headers,
        **extra,
    )


def test_a_token_holder_submits_and_gets_201_with_the_id(
    client, learner, token, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, {"exercise": "se-block", "code": SE_BLOCK_SOLUTION}, token=token)
    assert response.status_code == 201, response.content
    body = response.json()
    submission = Submission.objects.get(pk=body["id"])
    assert submission.user == learner and body["status"] == "queued"
    assert body["url"] == f"/api/submissions/{submission.pk}"
    assert [t.args for t in broker.take("grade.cpu")] == [[submission.pk]]


def test_without_credentials_the_api_answers_401(client):
    assert post(client, {"exercise": "se-block", "code": "x"}).status_code == 401
    assert client.get("/api/submissions/1").status_code == 401
    bad = post(client, {"exercise": "se-block", "code": "x"}, token="not-a-token")
    assert bad.status_code == 401


def test_session_auth_needs_the_csrf_token(learner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(learner)
    body = {"exercise": "se-block", "code": SE_BLOCK_SOLUTION}
    assert post(client, body).status_code == 403
    client.get("/exercises/")  # sets the CSRF cookie, as the page would
    csrf = client.cookies["csrftoken"].value
    response = post(client, body, HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 201, response.content


def test_get_returns_status_score_and_the_tests(client, learner, token):
    submission = services.submission_create(
        user=learner, exercise="se-block", code=SE_BLOCK_SYNTAX_ERROR, enqueue=False
    )
    queued = client.get(
        f"/api/submissions/{submission.pk}", headers={"Authorization": f"Bearer {token}"}
    )
    assert queued.json()["status"] == "queued" and queued.json()["tests"] == []
    flow.submission_grade(submission_id=submission.pk)
    body = client.get(
        f"/api/submissions/{submission.pk}", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert body["status"] == "error" and body["error_kind"] == "syntax"
    assert body["score"] == 0 and body["total"] == len(body["tests"]) > 0
    assert set(body["tests"][0]) == {"name", "category", "passed", "message"}
    assert "SyntaxError" in body["stderr_excerpt"]


def test_another_learners_submission_is_404(client, token, other_learner):
    theirs = services.submission_create(
        user=other_learner, exercise="se-block", code=SE_BLOCK_SOLUTION, enqueue=False
    )
    response = client.get(
        f"/api/submissions/{theirs.pk}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 404
    missing = client.get("/api/submissions/999999", headers={"Authorization": f"Bearer {token}"})
    assert missing.status_code == 404


def test_an_oversized_source_is_422_with_a_clear_message_and_nothing_queued(
    client, token, broker, django_capture_on_commit_callbacks
):
    code = "# " + "x" * (64 * 1024)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, {"exercise": "se-block", "code": code}, token=token)
    assert response.status_code == 422
    assert "the limit is 65,536 bytes" in response.json()["detail"]
    assert Submission.objects.count() == 0 and broker.all() == []


def test_a_body_that_is_not_utf8_is_400_with_a_clear_message(client, token, broker):
    raw = b'{"exercise": "se-block", "code": "x = \'\xe9\'"}'
    response = post(client, None, token=token, raw=raw)
    assert response.status_code == 400
    assert "not valid UTF-8" in response.json()["detail"]
    assert Submission.objects.count() == 0 and broker.all() == []


def test_a_lone_surrogate_in_the_json_is_422(client, token):
    raw = '{"exercise": "se-block", "code": "x = \'\\ud800\'"}'
    response = post(client, None, token=token, raw=raw)
    assert response.status_code == 422
    assert "not valid UTF-8" in response.json()["detail"]
    assert Submission.objects.count() == 0


def test_an_unknown_exercise_is_422(client, token):
    response = post(client, {"exercise": "nope", "code": "x = 1"}, token=token)
    assert response.status_code == 422 and "no exercise named" in response.json()["detail"]


def test_the_openapi_description_lists_both_operations(client, learner):
    client.force_login(learner)
    paths = client.get("/api/openapi.json").json()["paths"]
    assert set(paths) == {
        "/api/submissions",
        "/api/submissions/",
        "/api/submissions/{submission_id}",
    }


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_no_valid_credential_is_the_same_401_for_get_and_post(token):
    client = Client(enforce_csrf_checks=True)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    posted = client.post(
        "/api/submissions",
        json.dumps({"exercise": "se-block", "code": "x"}),
        content_type="application/json",
        headers=headers,
    )
    got = client.get("/api/submissions/1", headers=headers)
    assert posted.status_code == got.status_code == 401
    assert posted.json() == got.json() == {"detail": "Unauthorized"}


@pytest.fixture
def broker_down(monkeypatch):
    """A Redis broker URL where nothing listens, as while Redis restarts."""
    from config.celery_app import app

    url = "redis://127.0.0.1:9/0"  # the discard port: connection refused
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    old_url = app.conf.broker_url
    app.conf.broker_url = url
    app._after_fork()
    try:
        yield url
    finally:
        app.conf.broker_url = old_url
        app._after_fork()


def test_with_the_broker_down_a_stored_submission_is_still_201_and_left_to_the_sweeper(
    client, learner, token, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, {"exercise": "se-block", "code": SE_BLOCK_SOLUTION}, token=token)
    assert response.status_code == 201, response.content
    submission = Submission.objects.get(pk=response.json()["id"])
    assert submission.status == "queued" and submission.deadline is not None


def test_a_retried_post_with_the_same_idempotency_key_returns_the_same_submission(
    client, learner, token, broker, django_capture_on_commit_callbacks
):
    body = {"exercise": "se-block", "code": SE_BLOCK_SOLUTION}
    with django_capture_on_commit_callbacks(execute=True):
        first = post(client, body, token=token, headers_key="retry-1")
        again = post(client, body, token=token, headers_key="retry-1")
        other = post(client, body, token=token, headers_key="retry-2")
    assert first.status_code == again.status_code == other.status_code == 201
    assert first.json()["id"] == again.json()["id"] != other.json()["id"]
    assert Submission.objects.filter(user=learner).count() == 2
    assert len(broker.take("grade.cpu")) == 2  # the replay sent nothing


def test_an_idempotency_key_reused_for_other_code_is_refused(client, learner, token, broker):
    post(client, {"exercise": "se-block", "code": SE_BLOCK_SOLUTION}, token=token,
         headers_key="k")  # fmt: skip
    reused = post(client, {"exercise": "se-block", "code": SE_BLOCK_SYNTAX_ERROR}, token=token,
                  headers_key="k")  # fmt: skip
    assert reused.status_code == 422 and "Idempotency-Key" in reused.json()["detail"]
    assert Submission.objects.filter(user=learner).count() == 1


def test_on_gpu_over_the_api_queues_on_grade_gpu_where_gpu_workers_run(
    client, settings, token, broker, django_capture_on_commit_callbacks
):
    """The API offers what the page offers: "also test on a GPU" goes to grade.gpu and
    the answer and the submission both say so. (No GPU here: the queue is what is
    checked; the GPU run itself is covered by benchmarks/gpu_check.py on a GPU host.)"""
    settings.GRADING_GPU = True
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            client, {"exercise": "se-block", "code": SE_BLOCK_SOLUTION, "on_gpu": True}, token=token
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["on_gpu"] is True
    assert [t.args for t in broker.take("grade.gpu")] == [[body["id"]]]
    assert not broker.take("grade.cpu")
    got = client.get(body["url"], headers={"Authorization": f"Bearer {token}"}).json()
    assert got["on_gpu"] is True


@pytest.mark.parametrize(
    ("gpu_workers", "exercise", "kind", "reason"),
    [
        (False, "se-block", "submit", "no GPU worker"),
        (True, "param-count", "submit", "has no device tests"),
        (True, "se-block", "sample", "kind 'submit' only"),
    ],
)
def test_on_gpu_that_cannot_be_had_is_refused_with_the_reason(
    client, settings, token, broker, gpu_workers, exercise, kind, reason
):
    """A client that asked for a GPU run is never silently graded on the CPU only."""
    settings.GRADING_GPU = gpu_workers
    body = {"exercise": exercise, "code": SE_BLOCK_SOLUTION, "kind": kind, "on_gpu": True}
    response = post(client, body, token=token)
    assert response.status_code == 422, response.content
    assert reason in response.json()["detail"]
    assert not Submission.objects.exists()
    assert not broker.take("grade.cpu") and not broker.take("grade.gpu")


def test_without_on_gpu_the_answer_says_cpu(
    client, settings, token, broker, django_capture_on_commit_callbacks
):
    settings.GRADING_GPU = True
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, {"exercise": "se-block", "code": SE_BLOCK_SOLUTION}, token=token)
    assert response.status_code == 201 and response.json()["on_gpu"] is False
    assert len(broker.take("grade.cpu")) == 1 and not broker.take("grade.gpu")
