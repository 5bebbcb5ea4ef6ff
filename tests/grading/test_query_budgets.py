"""The exercise pages stay within a small number of queries for a learner with
submissions to several exercises (see tests/learning/test_query_budgets.py for how the
budgets are counted): a query per exercise or per attempt would break them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from grading.catalog import exercise_list
from grading.models import Submission
from tests.learning.realistic import learner_in_plan, within

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(client):
    built = learner_in_plan("ada")
    client.force_login(built.user)
    return built


def test_the_exercise_list_reads_every_title_at_once(client, world, django_assert_max_num_queries):
    assert len(exercise_list()) >= 8 and len(world.exercises) >= 4
    with within(django_assert_max_num_queries, 5):
        page = client.get(reverse("exercise-list"))
    assert page.status_code == 200
    assert Submission.objects.filter(user=world.user).count() >= 12


def test_the_exercise_page_and_a_verdict(client, world, django_assert_max_num_queries):
    slug = world.exercises[0]
    with within(django_assert_max_num_queries, 9):
        page = client.get(reverse("exercise-detail", args=[slug]))
    assert page.status_code == 200
    submission = Submission.objects.filter(user=world.user, exercise=slug).first()
    url = reverse("exercise-detail", args=[slug]) + f"?submission={submission.pk}"
    with within(django_assert_max_num_queries, 9):
        assert client.get(url).status_code == 200
    with within(django_assert_max_num_queries, 7):
        status = client.get(reverse("submission-status", args=[submission.pk]))
    assert status.status_code == 200


def test_submitting(client, world, broker, django_assert_max_num_queries):
    slug = world.exercises[1]
    with within(django_assert_max_num_queries, 8):
        response = client.post(
            reverse("exercise-submit", args=[slug]), {"code": "x = 1\n", "kind": "sample"}
        )
    assert response.status_code == 302
