"""The JSON API: submit code, read a verdict. Session (with CSRF) or bearer-token auth.

A learner sees only their own submissions: another learner's id answers 404, the same
as an id that does not exist, so ids reveal nothing.

Every answer is in the OpenAPI schema (/api/openapi.json), and every error, whatever
raised it, has one shape: `{"detail": "<a sentence>"}`, with `errors` (one entry per
field) added to a 422. tests/grading/test_api_contract.py checks each answer against
the schema.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum

from django.apps import apps as django_apps
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest
from ninja import NinjaAPI, Schema, Status
from ninja.errors import HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer, SessionAuth

from accounts import services as account_services
from grading import catalog, dispatch, selectors, services
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


class LearnerSession(SessionAuth):
    """A logged-in browser session; its CSRF token is checked only once there is one.

    ninja's own session auth checks CSRF first, so a request with no credential at all
    got 403 "CSRF check Failed" on POST and 401 on GET. Without a session there is
    nothing to forge: every request with no valid credential now gets the same 401.
    """

    def __call__(self, request: HttpRequest):
        if not request.user.is_authenticated:
            return None
        return super().__call__(request)


api = NinjaAPI(
    title="ResNet prep grading API",
    # ninja's Swagger page loads its JS from a CDN unless the app (with its vendored copy)
    # is installed; no page here may fetch from a CDN, so without it there is no page.
    docs_url="/docs" if django_apps.is_installed("ninja") else None,
    version="1",
    urls_namespace="grading-api",
    auth=[TokenAuth(), LearnerSession()],
    parser=StrictUtf8Parser(),
    # The docs page and schema are for learners who use the API; strangers get a log-in.
    docs_decorator=login_required,
)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError):
    if isinstance(exc.__cause__, BodyNotUtf8):
        return api.create_response(request, {"detail": str(exc.__cause__)}, status=400)
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
        detail = "The request body is not valid JSON. Nothing was queued."
        return api.create_response(request, {"detail": detail}, status=400)
    return api.create_response(request, {"detail": exc.message}, status=exc.status_code)


def _where(error: dict) -> str:
    # ("body", "payload", "code") -> "code"; ("path", "submission_id") -> "submission_id"
    parts = [str(p) for p in error.get("loc", ()) if p not in ("body", "payload", "path")]
    return ".".join(parts) or "body"


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError):
    errors = [{"field": _where(e), "message": str(e.get("msg", ""))} for e in exc.errors]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "Invalid request."
    return api.create_response(request, {"detail": detail, "errors": errors}, status=422)


SubmissionKind = StrEnum("SubmissionKind", {v.upper(): v for v in Submission.Kind.values})
SubmissionStatus = StrEnum("SubmissionStatus", {v.upper(): v for v in Submission.Status.values})


class SubmissionIn(Schema):
    exercise: str
    code: str
    kind: SubmissionKind = SubmissionKind(Submission.Kind.SUBMIT)
    # Also run the exercise's device tests on a GPU worker (kind submit only). Refused
    # with a 422 that says why where this deployment has no GPU worker or the exercise
    # has no device tests: a learner who asked for a GPU run never silently gets less.
    on_gpu: bool = False


class SubmissionCreated(Schema):
    id: int
    status: SubmissionStatus
    on_gpu: bool
    url: str


class TestOut(Schema):
    name: str
    category: str
    passed: bool
    message: str


class SubmissionOut(Schema):
    id: int
    exercise: str
    kind: SubmissionKind
    status: SubmissionStatus
    on_gpu: bool
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
    """Every error answer: one sentence for a person."""

    detail: str


class FieldError(Schema):
    field: str
    message: str


class Invalid(Schema):
    """A 422: the sentence, and what is wrong with each field."""

    detail: str
    errors: list[FieldError] = []


# What any authenticated operation may answer besides its own codes.
AUTH_ERRORS = {401: Refused, 403: Refused}
RETRY_AFTER = {
    "responses": {
        "429": {
            # ninja replaces the whole answer with this one, so it repeats the body.
            "description": "Too Many Requests",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Refused"}}},
            "headers": {
                "Retry-After": {
                    "description": "seconds to wait before submitting again",
                    "schema": {"type": "integer", "minimum": 1},
                }
            },
        }
    }
}


@api.post(
    "/submissions",
    response={201: SubmissionCreated, 400: Refused, **AUTH_ERRORS, 422: Invalid, 429: Refused},
    summary="Submit code for grading (kind: submit for hidden tests, sample for sample tests)",
    description=(
        "201: queued. 400: the body is not UTF-8 JSON. 401: no valid token or session. "
        "403: a session without its CSRF token. 422: a field is missing or wrong, or the "
        "code is refused (too long, unknown exercise), or on_gpu was asked where no GPU "
        "run can be had (the detail says why). 429: too many runs in flight "
        "(see Retry-After)."
    ),
    openapi_extra=RETRY_AFTER,
)
def submission_create(request: HttpRequest, payload: SubmissionIn):
    """With an `Idempotency-Key` header, a retried POST returns the submission it made."""
    if payload.on_gpu:
        refusal = _gpu_refusal(exercise=payload.exercise, kind=payload.kind.value)
        if refusal:
            return Status(422, {"detail": refusal})
    try:
        submission = services.submission_create(
            user=request.auth,
            exercise=payload.exercise,
            code=payload.code,
            kind=payload.kind.value,
            idempotency_key=request.headers.get("Idempotency-Key"),
            on_gpu=payload.on_gpu,
        )
    except services.SubmissionThrottled as exc:
        response = api.create_response(request, {"detail": str(exc)}, status=429)
        response["Retry-After"] = str(exc.retry_after_s)
        return response
    except services.SubmissionRefused as exc:
        return Status(422, {"detail": str(exc)})
    return Status(
        201,
        {
            "id": submission.pk,
            "status": submission.status,
            "on_gpu": submission.on_gpu,
            "url": f"{request.path.rstrip('/')}/{submission.pk}",
        },
    )


def _gpu_refusal(*, exercise: str, kind: str) -> str:
    """Why a GPU run cannot be had for this request, or "" when it can. An unknown
    exercise is left to submission_create, which names it."""
    try:
        spec = catalog.exercise_get(exercise)
    except KeyError:
        return ""
    if kind != Submission.Kind.SUBMIT:
        return "on_gpu applies to kind 'submit' only: sample tests run on the CPU."
    if not spec.device_tests:
        return f"{exercise!r} has no device tests: submit it without on_gpu."
    if not dispatch.gpu_tests_offered(spec=spec):
        return (
            "This deployment has no GPU worker, so device tests cannot run: submit "
            "without on_gpu to grade on the CPU."
        )
    return ""


# The same operation with a trailing slash, which clients often add.
api.post(
    "/submissions/",
    response={201: SubmissionCreated, 400: Refused, **AUTH_ERRORS, 422: Invalid, 429: Refused},
    summary="The same as POST /submissions",
    operation_id="submission_create_slash",
    openapi_extra=RETRY_AFTER,
)(submission_create)


@api.get(
    "/submissions/{submission_id}",
    response={200: SubmissionOut, **AUTH_ERRORS, 404: Refused, 422: Invalid},
    description="404: no such submission of yours. 422: the id is not a whole number.",
)
def submission_get(request: HttpRequest, submission_id: int):
    submission = selectors.submission_get_for(user=request.auth, submission_id=submission_id)
    return {
        **{f: getattr(submission, f) for f in SubmissionOut.model_fields if f != "tests"},
        "tests": list(submission.tests.all()),
    }
