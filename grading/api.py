"""The JSON API: submit code, read a verdict. Session (with CSRF) or bearer-token auth.

A learner sees only their own submissions: another learner's id answers 404, the same
as an id that does not exist, so ids reveal nothing.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.apps import apps as django_apps
from django.http import HttpRequest
from ninja import NinjaAPI, Schema, Status
from ninja.errors import HttpError
from ninja.parser import Parser
from ninja.security import HttpBearer, django_auth

from accounts import services as account_services
from grading import selectors, services
from grading.models import Submission


class BodyNotUtf8(ValueError):
    pass


class StrictUtf8Parser(Parser):
    """JSON bodies must be UTF-8; anything else is refused with a message saying so."""

    def parse_body(self, request: HttpRequest):
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BodyNotUtf8(
                f"The request body is not valid UTF-8 (bad byte at offset {exc.start}). "
                "Nothing was queued."
            ) from None
        return json.loads(text)


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        return account_services.api_token_authenticate(key=token)


api = NinjaAPI(
    title="ResNet prep grading API",
    # ninja's Swagger page loads its JS from a CDN unless the app (with its vendored copy)
    # is installed; no page here may fetch from a CDN, so without it there is no page.
    docs_url="/docs" if django_apps.is_installed("ninja") else None,
    version="1",
    urls_namespace="grading-api",
    auth=[TokenAuth(), django_auth],
    parser=StrictUtf8Parser(),
)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError):
    if isinstance(exc.__cause__, BodyNotUtf8):
        return api.create_response(request, {"detail": str(exc.__cause__)}, status=400)
    return api.create_response(request, {"detail": exc.message}, status=exc.status_code)


class SubmissionIn(Schema):
    exercise: str
    code: str
    kind: str = Submission.Kind.SUBMIT


class SubmissionCreated(Schema):
    id: int
    status: str
    url: str


class TestOut(Schema):
    name: str
    category: str
    passed: bool
    message: str


class SubmissionOut(Schema):
    id: int
    exercise: str
    kind: str
    status: str
    score: float | None
    passed: int
    total: int
    error_kind: str
    message: str
    stderr_excerpt: str
    attempts: int
    created_at: datetime
    finished_at: datetime | None
    wall_s: float | None
    tests: list[TestOut]


class Refused(Schema):
    detail: str


@api.post(
    "/submissions",
    response={201: SubmissionCreated, 422: Refused},
    summary="Submit code for grading (kind: submit for hidden tests, sample for sample tests)",
)
def submission_create(request: HttpRequest, payload: SubmissionIn):
    """With an `Idempotency-Key` header, a retried POST returns the submission it made."""
    try:
        submission = services.submission_create(
            user=request.auth,
            exercise=payload.exercise,
            code=payload.code,
            kind=payload.kind,
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
    except services.SubmissionRefused as exc:
        return Status(422, {"detail": str(exc)})
    return Status(
        201,
        {
            "id": submission.pk,
            "status": submission.status,
            "url": f"{request.path.rstrip('/')}/{submission.pk}",
        },
    )


@api.get("/submissions/{submission_id}", response=SubmissionOut)
def submission_get(request: HttpRequest, submission_id: int):
    submission = selectors.submission_get_for(user=request.auth, submission_id=submission_id)
    return {
        **{f: getattr(submission, f) for f in SubmissionOut.model_fields if f != "tests"},
        "tests": list(submission.tests.all()),
    }
