"""The mock-interview pages stay within a small number of queries for a learner with a
finished mock and a running one, on the real scripts (several steps each, three
scripts): a query per script or per step would break them. See
tests/learning/test_query_budgets.py for how the budgets are counted."""

from __future__ import annotations

import pytest
from django.urls import reverse

from quizbank.models import MockScript
from tests.learning.realistic import learner_in_plan, within

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(client):
    built = learner_in_plan("ada")
    client.force_login(built.user)
    return built


def test_the_data_has_several_scripts_and_steps(world):
    scripts = MockScript.objects.filter(retired=False)
    assert scripts.count() >= 3
    assert all(script.steps.count() >= 3 for script in scripts)


def test_the_list(client, world, django_assert_max_num_queries):
    with within(django_assert_max_num_queries, 8):
        assert client.get(reverse("mock-list")).status_code == 200


def test_the_running_attempt_and_its_saves(client, world, django_assert_max_num_queries):
    attempt = world.running_mock
    with within(django_assert_max_num_queries, 11):
        assert client.get(reverse("mock-attempt", args=[attempt.pk])).status_code == 200
    step = attempt.script.steps.first()
    url = reverse("mock-autosave", args=[attempt.pk, step.pk])
    with within(django_assert_max_num_queries, 14):
        response = client.post(url, {f"text-{step.pk}": "an answer"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    fields = {f"text-{s.pk}": "answer" for s in attempt.script.steps.all()}
    with within(django_assert_max_num_queries, 14):
        response = client.post(reverse("mock-save", args=[attempt.pk]), fields)
    assert response.status_code == 302
    with within(django_assert_max_num_queries, 19):
        response = client.post(reverse("mock-submit", args=[attempt.pk]), fields)
    assert response.status_code == 302


def test_the_review_and_its_ticks(client, world, django_assert_max_num_queries):
    attempt = world.done_mock
    with within(django_assert_max_num_queries, 11):
        assert client.get(reverse("mock-review", args=[attempt.pk])).status_code == 200
    with within(django_assert_max_num_queries, 14):
        response = client.post(reverse("mock-review", args=[attempt.pk]), {})
    assert response.status_code == 302


def test_starting_a_mock(client, world, django_assert_max_num_queries):
    script = world.done_mock.script
    with within(django_assert_max_num_queries, 13):
        response = client.post(reverse("mock-start", args=[script.slug]), {"time": "standard"})
    assert response.status_code == 302
