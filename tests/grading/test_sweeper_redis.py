"""The sweeper against a real Redis broker: a queued row whose message the broker lost
(a restart without persistence) is sent again within seconds, and only that one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from grading import claims, dispatch, services
from grading.models import Submission
from tests.grading.conftest import SE_BLOCK_SOLUTION

pytestmark = [pytest.mark.django_db, pytest.mark.redis]


@pytest.fixture
def redis_broker(redis_url, monkeypatch):
    """A Redis database of its own (14), emptied before and after."""
    import redis

    from config.celery_app import app

    url = redis_url.rsplit("/", 1)[0] + "/14"
    client = redis.Redis.from_url(url)
    client.flushdb()
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    old_url = app.conf.broker_url
    app.conf.broker_url = url
    app._after_fork()
    try:
        yield client
    finally:
        client.flushdb()
        app.conf.broker_url = old_url
        app._after_fork()


def queued(user, *, seconds_ago: float) -> Submission:
    submission = services.submission_create(
        user=user, exercise="se-block", code=SE_BLOCK_SOLUTION, enqueue=False
    )
    now = timezone.now()
    Submission.objects.filter(pk=submission.pk).update(
        queued_at=now - timedelta(seconds=seconds_ago), deadline=now + dispatch.QUEUE_WINDOW
    )
    return submission


def test_a_queued_row_whose_message_was_lost_is_sent_again_and_only_once(
    learner, redis_broker, django_capture_on_commit_callbacks
):
    lost = queued(learner, seconds_ago=claims.MESSAGE_GRACE_S + 5)
    just_sent = queued(learner, seconds_ago=1)  # its message may still be on its way
    with django_capture_on_commit_callbacks(execute=True):
        kept = services.submission_create(user=learner, exercise="se-block",
                                          code=SE_BLOCK_SOLUTION)  # fmt: skip
    Submission.objects.filter(pk=kept.pk).update(queued_at=timezone.now() - timedelta(seconds=60))
    assert dispatch.submissions_in_broker() == {kept.pk}

    with django_capture_on_commit_callbacks(execute=True):
        assert claims.submission_sweep() == [lost.pk]
    assert dispatch.submissions_in_broker() == {kept.pk, lost.pk}
    assert just_sent.pk not in dispatch.submissions_in_broker()
    with django_capture_on_commit_callbacks(execute=True):
        assert claims.submission_sweep() == []  # its message is there now
    # Sent again, it goes ahead of new submissions: kombu serves its lists by priority.
    assert redis_broker.llen("grade.cpu\x06\x163") == 1 and b'"submission-%d-' % lost.pk in (
        redis_broker.lindex("grade.cpu\x06\x163", 0)
    )
    assert redis_broker.llen("grade.cpu\x06\x166") == 1  # the new one, behind


def test_with_the_broker_unreadable_nothing_is_taken_for_lost(learner, broker):
    queued(learner, seconds_ago=claims.MESSAGE_GRACE_S + 5)
    assert dispatch.submissions_in_broker() is None  # the in-memory broker: not searchable
    assert claims.submission_sweep() == []


def test_a_message_a_dead_worker_took_without_claiming_its_row_is_sent_again(
    learner, redis_broker, django_capture_on_commit_callbacks
):
    # Delivered to a worker that was SIGKILLed before its claim: kombu keeps the message
    # in `unacked` (given back only after its hour-long visibility timeout).
    import time

    taken = queued(learner, seconds_ago=claims.MESSAGE_GRACE_S + 30)
    fresh = queued(learner, seconds_ago=claims.MESSAGE_GRACE_S + 30)
    for tag, pk, delivered in (
        ("dead", taken, time.time() - dispatch.UNACKED_HELD_S - 5),
        ("live", fresh, time.time() - 1),  # a worker about to claim it
    ):
        payload = f'[{{"headers": {{"id": "submission-{pk.pk}-x"}}}}, "", "grade.cpu"]'
        redis_broker.hset("unacked", tag, payload)
        redis_broker.zadd("unacked_index", {tag: delivered})
    assert dispatch.submissions_in_broker() == {fresh.pk}
    with django_capture_on_commit_callbacks(execute=True):
        assert claims.submission_sweep() == [taken.pk]
