"""Every answer the API gives, checked against its own OpenAPI schema.

Each request below provokes one documented answer; `conforms` finds the operation and
status in /api/openapi.json and validates the body with jsonschema. An answer whose
status is not documented fails, as does one whose body does not fit.
"""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from django.test import Client, override_settings
from django.utils import timezone

from accounts import services as account_services
from grading.models import Submission, TestResult
from tests.grading.conftest import SE_BLOCK_SOLUTION

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(django_user_model):
    reader = Client()
    reader.force_login(django_user_model.objects.create_user(username="schema-reader"))
    response = reader.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    return document


def conforms(schema: dict, response, *, method: str) -> dict:
    """Validate `response` against the operation of `schema` that its path matches."""
    path = response.wsgi_request.path
    operation = None
    for template, operations in schema["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method in operations:
            operation = operations[method]
            break
    assert operation is not None, f"{method.upper()} {path} is not in the schema"
    documented = operation["responses"].get(str(response.status_code))
    assert documented is not None, (
        f"{method.upper()} {path} answered {response.status_code}, which is not documented "
        f"(documented: {sorted(operation['responses'])})"
    )
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    body_schema = documented["content"]["application/json"]["schema"]
    jsonschema.validate(
        body,
        {**body_schema, "components": schema["components"]},
        cls=jsonschema.Draft202012Validator,
    )
    for header in documented.get("headers", {}):
        assert header in response, f"{response.status_code} lacks its documented {header}"
    return body


@pytest.fixture
def learner(django_user_model):
    return django_user_model.objects.create_user(username="ada", password="pw-for-tests-1")


@pytest.fixture
def auth(learner):
    _token, key = account_services.api_token_create(user=learner)
    return {"Authorization": f"Bearer {key}"}


def post(client, path="/api/submissions", *, body=None, raw=None, headers=None):
    return client.post(
        path,
        raw if raw is not None else json.dumps(body),
        content_type="application/json",
        headers=headers or {},
    )


GOOD = {"exercise": "se-block", "code": SE_BLOCK_SOLUTION}


def test_created_with_and_without_a_trailing_slash(client, schema, auth, broker):
    for path in ("/api/submissions", "/api/submissions/"):
        response = post(client, path, body=GOOD, headers=auth)
        assert response.status_code == 201
        body = conforms(schema, response, method="post")
        assert body["status"] == "queued" and body["url"] == f"/api/submissions/{body['id']}"


def test_a_verdict_with_its_tests_and_a_queued_one(client, schema, auth, learner):
    done = Submission.objects.create(
        user=learner,
        exercise="se-block",
        code="x",
        status=Submission.Status.FAILED,
        score=0.5,
        passed=1,
        total=2,
        finished_at=timezone.now(),
        wall_s=1.5,
    )
    TestResult.objects.create(submission=done, order=0, name="shape", category="shape", passed=True)
    TestResult.objects.create(
        submission=done, order=1, name="output", category="output", passed=False, message="off"
    )
    queued = Submission.objects.create(user=learner, exercise="se-block", code="x")
    for submission in (done, queued):
        response = client.get(f"/api/submissions/{submission.pk}", headers=auth)
        assert response.status_code == 200
        body = conforms(schema, response, method="get")
        assert body["status"] == submission.status
    assert len(body["tests"]) == 0


@pytest.mark.parametrize(
    "raw",
    [
        "not json at all",
        b'{"exercise": "se-block", "code": "\xff"}',
    ],
)
def test_a_body_that_is_not_utf8_json_is_400(client, schema, auth, raw):
    response = post(client, raw=raw, headers=auth)
    assert response.status_code == 400
    assert "Nothing was queued" in conforms(schema, response, method="post")["detail"]


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_no_credential_is_401_on_both_operations(schema, token):
    client = Client(enforce_csrf_checks=True)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    conforms(schema, post(client, body=GOOD, headers=headers), method="post")
    response = client.get("/api/submissions/1", headers=headers)
    assert response.status_code == 401
    conforms(schema, response, method="get")


def test_a_session_without_its_csrf_token_is_403(schema, learner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(learner)
    response = post(client, body=GOOD)
    assert response.status_code == 403
    conforms(schema, response, method="post")


def test_another_learners_submission_is_404(client, schema, auth, django_user_model):
    other = django_user_model.objects.create_user(username="bob")
    theirs = Submission.objects.create(user=other, exercise="se-block", code="x")
    response = client.get(f"/api/submissions/{theirs.pk}", headers=auth)
    assert response.status_code == 404
    conforms(schema, response, method="get")


@pytest.mark.parametrize(
    "body",
    [
        {"exercise": "se-block"},
        {"exercise": "se-block", "code": 5},
        ["se-block", "x"],
        {"exercise": "se-block", "code": "x", "kind": "everything"},
        {"exercise": "no-such-exercise", "code": "x"},
        {"exercise": "se-block", "code": "x" * (65 * 1024)},
    ],
)
def test_every_refused_body_is_a_422_with_a_sentence(client, schema, auth, body):
    response = post(client, body=body, headers=auth)
    assert response.status_code == 422
    detail = conforms(schema, response, method="post")["detail"]
    assert isinstance(detail, str) and detail


def test_a_path_id_that_is_not_a_number_is_a_422_with_a_sentence(client, schema, auth):
    response = client.get("/api/submissions/abc", headers=auth)
    assert response.status_code == 422
    body = conforms(schema, response, method="get")
    assert body["errors"][0]["field"] == "submission_id"


@override_settings(GRADING_MAX_ACTIVE=1)
def test_too_many_in_flight_is_429_with_retry_after(client, schema, auth, broker):
    assert post(client, body=GOOD, headers=auth).status_code == 201
    response = post(client, body=GOOD, headers=auth)
    assert response.status_code == 429
    conforms(schema, response, method="post")


def test_an_unknown_api_path_answers_json_not_an_html_page(client, auth):
    response = client.get("/api/nothing-here", headers=auth)
    assert response.status_code == 404 and response.json()["detail"]
