"""A posted `next` is followed only when it stays on this site."""

from __future__ import annotations

import pytest
from django.urls import reverse

from learning import services
from learning.models import ReviewLogEntry
from tests.learning.factories_learner import make_content, make_user

pytestmark = pytest.mark.django_db

ELSEWHERE = [
    "https://evil.example/phish",
    "//evil.example/phish",
    "/\\evil.example",
    "javascript:alert(1)",
    "http://testserver.evil.example/",
]


@pytest.fixture
def content():
    return make_content()


@pytest.fixture
def ada(client):
    user = make_user("ada")
    client.force_login(user)
    return user


@pytest.mark.parametrize("target", ELSEWHERE)
def test_confirming_a_task_never_redirects_off_site(client, content, ada, target):
    plan = services.plan_start(user=ada, chapter=content.chapter)
    url = reverse("plan-task-confirm", args=[plan.pk, content.tasks["d0-draw"].pk])
    response = client.post(url, {"confirm": "yes", "next": target})
    assert response.status_code == 302 and response["Location"] == reverse("plan")


@pytest.mark.parametrize("target", ELSEWHERE)
def test_rerating_never_redirects_off_site(client, content, ada, target):
    entry = _entry(client, content)
    response = client.post(
        reverse("review-rerate", args=[entry.pk]), {"rating": "2", "next": target}
    )
    assert response.status_code == 302 and response["Location"] == reverse("due")


def test_a_path_on_this_site_is_followed(client, content, ada):
    entry = _entry(client, content)
    response = client.post(
        reverse("review-rerate", args=[entry.pk]), {"rating": "2", "next": "/practice/?x=1"}
    )
    assert response["Location"] == "/practice/?x=1"


def _entry(client, content) -> ReviewLogEntry:
    item = content.items["mc"]
    right = item.choices.get(correct=True)
    client.post(
        reverse("item-answer", args=[item.pk]),
        {"choice": right.pk, "certainty": "sure", "source": "due"},
    )
    return ReviewLogEntry.objects.get()
