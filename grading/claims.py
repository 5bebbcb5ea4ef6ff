"""Who grades a row, and what happens when nobody does: the claim, its heartbeat,
handing rows back, and the sweeper.

Exactly one worker grades a row: the queued -> running claim is one guarded UPDATE, and
every later write is guarded by the claim's `started_at`, so a worker that lost its
claim to the sweeper cannot overwrite the newer outcome (`grading.flow` writes it).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, connections, transaction
from django.db.models import F
from django.utils import timezone

from grading.dispatch import (
    PRIORITY_AGAIN,
    PRIORITY_RESENT,
    QUEUE_WINDOW,
    enqueue_on_commit,
    submissions_in_broker,
)
from grading.messages import OUR_FAULT_MESSAGE
from grading.models import Submission

logger = logging.getLogger(__name__)

MAX_SANDBOX_RETRIES = 3  # then the learner is told it is our fault
# The worker grading a row renews its deadline every HEARTBEAT_EVERY_S; a row whose
# heartbeat is HEARTBEAT_STALE_S old lost its worker (killed, or its host gone) and the
# sweeper, which runs every few seconds, gives it back to the queue. Stale is several
# beats, so a slow database write or two never makes a live worker look dead.
HEARTBEAT_EVERY_S = 2.0
HEARTBEAT_STALE_S = 10.0
# Where the broker can be searched (Redis), a queued row whose message is missing is
# sent again MESSAGE_GRACE_S after it was queued (its message goes out right after the
# commit), long before QUEUE_WINDOW runs out.
MESSAGE_GRACE_S = 10.0


def submission_claim(*, submission_id: int, now: datetime | None = None) -> datetime | None:
    """Move a queued row to running in one UPDATE; the claim's time, or None if taken.

    The claim holds HEARTBEAT_STALE_S unless its Heartbeat renews it.
    """
    claimed_at = now or timezone.now()
    claimed = Submission.objects.filter(pk=submission_id, status=Submission.Status.QUEUED).update(
        status=Submission.Status.RUNNING,
        started_at=claimed_at,
        deadline=claimed_at + timedelta(seconds=HEARTBEAT_STALE_S),
    )
    return claimed_at if claimed else None


class Heartbeat(threading.Thread):
    """Renews a claimed row's deadline every `every_s` while its grading runs.

    From its own database connection: a worker killed mid-grade stops beating, and the
    sweeper finds the row HEARTBEAT_STALE_S later instead of after the hard time limit.
    Every write is guarded by the claim, so a finished or re-claimed row is left alone.
    Inside the caller's open transaction (tests) the claim is not visible to another
    connection yet, so there it does nothing.
    """

    def __init__(
        self, *, submission_id: int, claimed_at: datetime, every_s: float = HEARTBEAT_EVERY_S
    ) -> None:
        super().__init__(name=f"heartbeat-{submission_id}", daemon=True)
        self.submission_id = submission_id
        self.claimed_at = claimed_at
        self.every_s = every_s
        self._stopped = threading.Event()

    def start(self) -> None:
        if not transaction.get_connection().in_atomic_block:
            super().start()

    def run(self) -> None:
        try:
            while not self._stopped.wait(self.every_s):
                try:
                    Submission.objects.filter(
                        pk=self.submission_id,
                        status=Submission.Status.RUNNING,
                        started_at=self.claimed_at,
                    ).update(deadline=timezone.now() + timedelta(seconds=HEARTBEAT_STALE_S))
                except DatabaseError as exc:
                    logger.warning("submission %s: heartbeat not written: %s",
                                   self.submission_id, exc)  # fmt: skip
        finally:
            connections.close_all()  # this thread's own connections

    def stop(self) -> None:
        self._stopped.set()


def submission_hand_back(*, submission_ids: list[int], now: datetime | None = None) -> list[int]:
    """Give running rows back to the queue at once (a worker stopping without finishing).

    The claim is dropped in one guarded UPDATE per row and a message is sent; the worker
    still holding the old claim cannot store anything over a newer one. The attempt is
    not counted: stopping was not the sandbox's failure.
    """
    now = now or timezone.now()
    handed: list[int] = []
    for pk, exercise in Submission.objects.filter(
        pk__in=submission_ids, status=Submission.Status.RUNNING
    ).values_list("pk", "exercise"):
        with transaction.atomic():
            updated = Submission.objects.filter(pk=pk, status=Submission.Status.RUNNING).update(
                status=Submission.Status.QUEUED,
                queued_at=now,
                started_at=None,
                deadline=now + QUEUE_WINDOW,
            )
            if updated:
                enqueue_on_commit(submission_id=pk, exercise=exercise)
                handed.append(pk)
    return handed


def submission_sweep(*, now: datetime | None = None) -> list[int]:
    """Send again the rows stuck in queued or running past their deadline; return their ids.

    A running row past its deadline lost its worker (the hard time limit is shorter):
    it goes back to queued in one UPDATE guarded by status and deadline, so a sweep that
    races another sweep, or the worker finishing after all, changes nothing twice.
    """
    now = now or timezone.now()
    stuck = list(
        Submission.objects.filter(
            status__in=[Submission.Status.QUEUED, Submission.Status.RUNNING], deadline__lt=now
        )
        .order_by("deadline")
        .values_list("pk", "status", "deadline", "attempts", "exercise")[:500]
    )
    swept: list[int] = []
    for pk, status, deadline, attempts, exercise in stuck:
        guard = Submission.objects.filter(pk=pk, status=status, deadline=deadline)
        with transaction.atomic():
            if status == Submission.Status.RUNNING and attempts >= MAX_SANDBOX_RETRIES:
                guard.update(
                    status=Submission.Status.SANDBOX_ERROR,
                    error_kind="sandbox_error",
                    message=OUR_FAULT_MESSAGE,
                    detail="the worker grading it was lost too many times",
                    finished_at=now,
                    deadline=None,
                )
                continue
            changes: dict[str, Any] = {"deadline": now + QUEUE_WINDOW}
            if status == Submission.Status.RUNNING:
                changes.update(
                    status=Submission.Status.QUEUED,
                    queued_at=now,
                    started_at=None,
                    attempts=F("attempts") + 1,
                )
            updated = guard.update(**changes)
            if updated:
                enqueue_on_commit(
                    submission_id=pk,
                    exercise=exercise,
                    priority=PRIORITY_AGAIN if status == Submission.Status.RUNNING
                    else PRIORITY_RESENT,
                )  # fmt: skip
                swept.append(pk)
    swept += _resend_lost_messages(now=now, skip=set(swept))
    if swept:
        logger.warning("sweeper re-enqueued submissions %s", swept)
    return swept


def _resend_lost_messages(*, now: datetime, skip: set[int]) -> list[int]:
    """Send again the queued rows whose message the broker no longer holds.

    Only where the broker can be searched (Redis: its queues and its unacked messages);
    elsewhere QUEUE_WINDOW is the only net. A row is looked at MESSAGE_GRACE_S after it
    was queued, so a message still on its way after the commit is not taken for lost.
    """
    waiting = {
        pk: (exercise, deadline)
        for pk, exercise, deadline in Submission.objects.filter(
            status=Submission.Status.QUEUED,
            queued_at__lt=now - timedelta(seconds=MESSAGE_GRACE_S),
            deadline__gte=now,
        ).values_list("pk", "exercise", "deadline")[:2000]
        if pk not in skip
    }
    if not waiting:
        return []
    held = submissions_in_broker()
    if held is None:
        return []
    resent = []
    for pk, (exercise, deadline) in waiting.items():
        if pk in held:
            continue
        with transaction.atomic():
            updated = Submission.objects.filter(
                pk=pk, status=Submission.Status.QUEUED, deadline=deadline
            ).update(deadline=now + QUEUE_WINDOW)
            if updated:
                enqueue_on_commit(submission_id=pk, exercise=exercise, priority=PRIORITY_RESENT)
                resent.append(pk)
    return resent
