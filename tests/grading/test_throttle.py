"""At most GRADING_MAX_ACTIVE runs per learner are queued or running at once."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings
from django.urls import reverse

from accounts import services as account_services
from grading.models import Submission
from tests.grading.conftest import SE_BLOCK_SOLUTION

pytestmark = pytest.mark.django_db

SLEEPER = "import time\ntime.sleep(1000)\n"


@pytest.fixture
def ada(client, django_user_model):
    user = django_user_model.objects.create_user(username="ada", password="pw-for-tests-1")
    client.force_login(user)
    return user


@override_settings(GRADING_MAX_ACTIVE=3)
def test_the_api_answers_429_with_retry_after_past_the_runs_in_flight(client, ada, broker):
    _token, key = account_services.api_token_create(user=ada)
    headers = {"Authorization": f"Bearer {key}"}
    body = json.dumps({"exercise": "se-block", "code": SLEEPER})
    codes = [
        client.post(
            "/api/submissions", body, content_type="application/json", headers=headers
        ).status_code
        for _ in range(5)
    ]
    assert codes == [201, 201, 201, 429, 429]
    refused = client.post(
        "/api/submissions", body, content_type="application/json", headers=headers
    )
    assert int(refused["Retry-After"]) >= 1
    assert "at most 3" in refused.json()["detail"]
    assert Submission.objects.filter(user=ada).count() == 3
    # A finished run frees its place.
    first = Submission.objects.filter(user=ada).earliest("pk")
    Submission.objects.filter(pk=first.pk).update(status=Submission.Status.PASSED)
    again = client.post("/api/submissions", body, content_type="application/json", headers=headers)
    assert again.status_code == 201


@override_settings(GRADING_MAX_ACTIVE=1)
def test_the_exercise_page_says_why_a_submission_was_not_queued(client, ada, broker):
    url = reverse("exercise-submit", args=["se-block"])
    assert client.post(url, {"code": SE_BLOCK_SOLUTION}).status_code == 302
    page = client.post(url, {"code": SE_BLOCK_SOLUTION})
    assert page.status_code == 429 and page["Retry-After"]
    assert "at most 1 at once" in page.content.decode()
    htmx = client.post(url, {"code": SE_BLOCK_SOLUTION}, HTTP_HX_REQUEST="true")
    assert "at most 1 at once" in htmx.content.decode()
    assert Submission.objects.filter(user=ada).count() == 1
