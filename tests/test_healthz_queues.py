"""/healthz's queue report: what an operator's alert reads (queue depth, the oldest
queued submission's age, workers and pool size), for staff and this host only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from grading import services
from grading.models import Submission
from tests.grading.conftest import SE_BLOCK_SOLUTION

pytestmark = pytest.mark.django_db


def test_healthz_reports_queued_running_and_the_oldest_queued_age(client, django_user_model):
    user = django_user_model.objects.create_user(username="ops", password="pw-for-tests-1")
    rows = [
        services.submission_create(
            user=user, exercise="se-block", code=SE_BLOCK_SOLUTION, enqueue=False
        )  # fmt: skip
        for _ in range(3)
    ]
    Submission.objects.filter(pk=rows[0].pk).update(
        queued_at=timezone.now() - timedelta(seconds=90)
    )
    Submission.objects.filter(pk=rows[2].pk).update(status="running")
    queues = client.get("/healthz").json()["queues"]
    assert (queues["submissions"]["queued"], queues["submissions"]["running"]) == (2, 1)
    assert 89 <= queues["submissions"]["oldest_queued_age_s"] < 120
    assert set(queues["workers"]) >= {"seen", "pool_size"} or "error" in queues["workers"]


def test_healthz_counts_messages_waiting_per_queue_in_redis(client, redis_url, settings):
    import redis

    url = redis_url.rsplit("/", 1)[0] + "/13"
    store = redis.Redis.from_url(url)
    store.flushdb()
    try:
        store.rpush("grade.cpu", b"a", b"b")
        store.rpush("grade.cpu\x06\x163", b"c")  # kombu's list for priority step 3
        settings.CELERY_BROKER_URL = url
        depth = client.get("/healthz").json()["queues"]["broker_depth"]
        assert depth == {"grade.cpu": 3, "grade.gpu": 0, "grade.sweep": 0}
    finally:
        store.flushdb()


def test_the_queue_report_is_not_shown_to_a_remote_anonymous_caller(client):
    body = client.get("/healthz", REMOTE_ADDR="203.0.113.7").json()
    assert "queues" not in body and body["ok"] is True
