"""Celery tasks: thin wrappers that take ids and call the services.

`grade_submission` is idempotent (the service claims the row with one UPDATE), so it is
acked late: a worker lost mid-grading leaves the message to be redelivered, and the
redelivery finds nothing to do while the sweeper recovers the row.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from grading import claims, dispatch, flow, scratch
from sandbox import Limits

# Defaults for this host's sandbox wall limit; each message carries the limits of its own
# exercise (dispatch._enqueue), which may be larger.
_LIMITS = dispatch.grading_time_limits(limits=Limits(wall_s=settings.SANDBOX_WALL_S))

# Lost work is found within seconds: a dead worker's row within HEARTBEAT_STALE_S plus
# this, a queued row with no message within MESSAGE_GRACE_S plus this.
SWEEP_EVERY_S = 5.0


@shared_task(
    name="grading.grade_submission",
    acks_late=True,
    soft_time_limit=_LIMITS.soft_s,
    time_limit=_LIMITS.hard_s,
    ignore_result=True,
)
def grade_submission(submission_id: int) -> None:
    flow.submission_grade(submission_id=submission_id)


@shared_task(
    name="grading.sweep_submissions",
    # Sweeps are idempotent and the next one is seconds away: none is redelivered.
    acks_late=False,
    soft_time_limit=30,
    time_limit=40,
    ignore_result=True,
)
def sweep_submissions() -> int:
    return len(claims.submission_sweep())


@shared_task(
    name="grading.run_scratch",
    # A lost scratch run is not redelivered: the page says it was lost and the learner
    # runs it again (nothing is graded or stored from it).
    acks_late=False,
    soft_time_limit=_LIMITS.soft_s,
    time_limit=_LIMITS.hard_s,
    ignore_result=True,
)
def run_scratch(run_id: int) -> None:
    scratch.scratch_run(run_id=run_id)
