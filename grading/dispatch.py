"""Where a submission's grading goes, and how: queues, limits, priorities, the message.

The message carries only the row's id and is sent after the row's transaction commits;
should the broker be down, the committed row is the promise and the sweeper
(`grading.claims`) sends it later. Tasks are sent by name, so that no module here imports
`grading.tasks` (which imports these).
"""

from __future__ import annotations

import functools
import logging
import re
import uuid
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.celery_app import app as celery_app
from grading import catalog
from grading.catalog import ExerciseSpec
from grading.models import Submission
from sandbox import Limits

logger = logging.getLogger(__name__)

# Seconds the Celery task may take beyond the sandbox's own wall limit: the worker also
# starts the container, runs the reference solution and writes the verdict.
TASK_SOFT_MARGIN_S = 60
TASK_HARD_MARGIN_S = 30  # after the soft limit, time to record a clean sandbox_error
# A queued row not picked up within this window had its message lost (a broker restart,
# a purged queue): the sweeper sends it again. A duplicate message is harmless.
QUEUE_WINDOW = timedelta(minutes=5)
# Each message's task id names its row, so the sweeper can find the row's message.
TASK_ID_PREFIX = "submission-"
# Message priorities (kombu's Redis transport serves 0 first, in steps 0, 3, 6, 9). Work
# that was already started once (its worker was lost, it is retried, or handed back) goes
# first; a queued row whose message was lost rejoins ahead of new submissions.
PRIORITY_AGAIN = 0
PRIORITY_RESENT = 3
PRIORITY_NEW = 6
GRADING_QUEUES = ("grade.cpu", "grade.gpu")
# A queued row's message is claimed within moments of its delivery (a retry's countdown
# holds it at most 8 s); one still unacknowledged after this is sent again (a duplicate
# is harmless: the claim is one UPDATE).
UNACKED_HELD_S = 20.0
_TASK_ID = re.compile(rb'"' + re.escape(TASK_ID_PREFIX.encode()) + rb"(\d+)-")


def grading_limits(*, spec: ExerciseSpec) -> Limits:
    """This host's sandbox settings, raised to what the exercise needs where it needs more."""
    wants_gpu = spec.queue == "grade.gpu" and settings.SANDBOX_GPUS != "none"
    base = Limits(
        wall_s=settings.SANDBOX_WALL_S,
        memory_mb=settings.SANDBOX_MEMORY_MB,
        pids=settings.SANDBOX_PIDS,
        cpus=settings.SANDBOX_CPUS,
        output_bytes=settings.SANDBOX_OUTPUT_KB * 1024,
        tmpfs_mb=settings.SANDBOX_TMPFS_MB,
        gpus=settings.SANDBOX_GPUS if wants_gpu else "none",
    )
    own = spec.limits
    if own is None:
        return base
    merged: dict[str, Any] = {}
    for field in fields(Limits):
        mine, theirs = getattr(base, field.name), getattr(own, field.name)
        merged[field.name] = max(mine, theirs) if isinstance(mine, int | float) else mine
    return Limits(**merged)


def grading_queue(*, spec: ExerciseSpec, on_gpu: bool = False) -> str:
    """grade.gpu only where this deployment runs GPU workers (GRADING_GPU=1): for a GPU
    exercise, or a submission that asked for the device tests."""
    wants = spec.queue == "grade.gpu" or (on_gpu and spec.device_tests)
    return "grade.gpu" if wants and settings.GRADING_GPU else "grade.cpu"


def gpu_tests_offered(*, spec: ExerciseSpec) -> bool:
    """Whether a learner may ask for this exercise's device tests here."""
    return spec.device_tests and settings.GRADING_GPU


@dataclass(frozen=True)
class TaskTimeLimits:
    soft_s: float
    hard_s: float


def grading_time_limits(*, limits: Limits, on_gpu: bool = False) -> TaskTimeLimits:
    # Device tests run in a second job of the same limits, after the CPU tests' job.
    soft = limits.wall_s * (2 if on_gpu else 1) + TASK_SOFT_MARGIN_S
    return TaskTimeLimits(soft_s=soft, hard_s=soft + TASK_HARD_MARGIN_S)


def _enqueue(
    *,
    submission_id: int,
    exercise: str,
    countdown: float | None = None,
    priority: int = PRIORITY_NEW,
) -> None:
    # By name, so that this module never imports grading.tasks (which imports it).
    on_gpu = Submission.objects.filter(pk=submission_id, on_gpu=True).exists()
    try:
        spec = catalog.exercise_get(exercise)
    except KeyError:
        queue, limits = "grade.cpu", Limits()  # the worker records the unknown exercise
    else:
        queue, limits = grading_queue(spec=spec, on_gpu=on_gpu), grading_limits(spec=spec)
    time_limits = grading_time_limits(limits=limits, on_gpu=on_gpu)
    celery_app.send_task(
        "grading.grade_submission",
        args=[submission_id],
        task_id=f"{TASK_ID_PREFIX}{submission_id}-{uuid.uuid4().hex[:12]}",
        queue=queue,
        countdown=countdown,
        # A row sent again has waited once already: it goes ahead of the backlog instead
        # of behind it (Redis: 0 is served first).
        priority=priority,
        soft_time_limit=time_limits.soft_s,
        time_limit=time_limits.hard_s,
    )


def _enqueue_or_leave_to_sweeper(
    *,
    submission_id: int,
    exercise: str,
    countdown: float | None = None,
    priority: int = PRIORITY_NEW,
) -> None:
    """Send the message; should the broker be down, the committed row is the promise.

    The row stays queued without a message, and the sweeper sends it once the broker
    answers (it looks for rows whose message is missing), so the caller never fails
    for a submission that was stored.
    """
    try:
        _enqueue(
            submission_id=submission_id, exercise=exercise, countdown=countdown, priority=priority
        )
    except Exception as exc:  # noqa: BLE001 - any broker failure: the sweeper recovers it
        logger.warning("submission %s: not sent (%s: %s); the sweeper will send it",
                       submission_id, type(exc).__name__, exc)  # fmt: skip


def enqueue_on_commit(
    *,
    submission_id: int,
    exercise: str,
    countdown: float | None = None,
    priority: int = PRIORITY_AGAIN,
) -> None:
    transaction.on_commit(
        functools.partial(
            _enqueue_or_leave_to_sweeper,
            submission_id=submission_id,
            exercise=exercise,
            countdown=countdown,
            priority=priority,
        )
    )


def submissions_in_broker() -> set[int] | None:
    """Ids of the submissions with a message in the broker (waiting or unacked).

    None where the broker cannot be searched (not Redis, or not answering): then nothing
    may be concluded from an absence.
    """
    url = celery_app.conf.broker_url or settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        found: set[int] = set()
        for queue in GRADING_QUEUES:
            # kombu keeps one list per priority step: the queue's name, then name+suffix.
            for key in client.scan_iter(match=f"{queue}*", count=100):
                for raw in client.lrange(key, 0, -1):
                    found.update(int(m) for m in _TASK_ID.findall(raw))
        # Delivered but not acknowledged: held, unless delivered UNACKED_HELD_S ago (a
        # worker killed before claiming it; Redis would keep it for an hour).
        delivered_before = timezone.now().timestamp() - UNACKED_HELD_S
        since = dict(client.zrange("unacked_index", 0, -1, withscores=True))
        for tag, raw in client.hgetall("unacked").items():
            if since.get(tag, delivered_before) >= delivered_before:
                found.update(int(m) for m in _TASK_ID.findall(raw))
        return found
    except Exception as exc:  # noqa: BLE001 - an unreadable broker proves nothing
        logger.warning("sweeper could not search the broker: %s", exc)
        return None
