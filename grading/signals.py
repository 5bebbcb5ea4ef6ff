"""Worker start-up: clear what a crashed worker left behind, then recover stuck rows.

The sweep also runs once whenever a worker becomes ready: a restart is exactly when rows
were left running. From then on the worker's main process reaps its host's sandbox
leftovers every REAP_EVERY_S (a pool child killed mid-grade leaves its container behind;
the container ends by its own deadline, the reaper removes it).
"""

from __future__ import annotations

import logging
import threading

from celery.signals import worker_process_shutdown, worker_ready, worker_shutting_down

logger = logging.getLogger(__name__)

# Containers end by themselves at their own deadline; this only bounds how long an
# exited one (or one past its deadline label) stays listed.
REAP_EVERY_S = 30.0


class PeriodicReaper(threading.Thread):
    """Calls reap_sandbox_leftovers() every `every_s` until stop()."""

    def __init__(self, *, every_s: float = REAP_EVERY_S) -> None:
        super().__init__(name="sandbox-reaper", daemon=True)
        self.every_s = every_s
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self.every_s):
            reap_sandbox_leftovers()

    def stop(self) -> None:
        self._stopped.set()


_reaper: PeriodicReaper | None = None


def start_periodic_reaper(*, every_s: float = REAP_EVERY_S) -> PeriodicReaper:
    """One reaper per process (the worker's main one); later calls return the same."""
    global _reaper
    if _reaper is None or not _reaper.is_alive():
        _reaper = PeriodicReaper(every_s=every_s)
        _reaper.start()
    return _reaper


def reap_sandbox_leftovers() -> None:
    try:
        from sandbox import backends
    except ImportError:
        return
    reap = getattr(backends, "reap_leftovers", None)
    if reap is None:
        return
    try:
        reap()
    except Exception:  # a failed clean-up must not stop the worker from starting
        logger.exception("reaping sandbox leftovers failed")


@worker_ready.connect(dispatch_uid="grading.worker_ready")
def on_worker_ready(**_kwargs) -> None:
    from django.db import connections

    from grading.claims import submission_sweep

    reap_sandbox_leftovers()
    start_periodic_reaper()
    try:
        swept = submission_sweep()
        logger.info("worker ready: re-enqueued %d stuck submission(s)", len(swept))
    except Exception:
        logger.exception("start-up sweep failed")
    finally:
        # The pool's children open their own connections; the parent needs none after this.
        for connection in connections.all(initialized_only=True):
            if not connection.in_atomic_block:
                connection.close()


def _active_submission_ids() -> list[int]:
    """The submissions this worker is grading now (requests held by its main process)."""
    from celery.worker import state

    ids = []
    for request in list(state.active_requests):
        if request.name == "grading.grade_submission" and request.args:
            ids.append(int(request.args[0]))
    return sorted(ids)


def shutdown_report(*, submission_ids: list[int], how: str) -> str:
    """What a stopping worker does with the gradings it holds, in one log line.

    Warm (the first SIGTERM, as in a deploy): each is finished, within its time limit,
    before the worker exits. Cold (a second signal): each is handed back at once.
    """
    if not submission_ids:
        return f"{how.lower()} shutdown: no grading in progress"
    ids = ", ".join(map(str, submission_ids))
    if how.lower() == "warm":
        return f"warm shutdown: finishing submission(s) {ids} before exiting"
    return f"{how.lower()} shutdown: handing submission(s) {ids} back to the queue"


@worker_shutting_down.connect(dispatch_uid="grading.worker_shutting_down")
def on_worker_shutting_down(*, how: str = "Warm", **_kwargs) -> None:
    if _reaper is not None:
        _reaper.stop()
    try:
        ids = _active_submission_ids()
    except Exception:  # noqa: BLE001 - reporting must never block the shutdown
        logger.exception("could not list the gradings in progress")
        return
    logger.warning(shutdown_report(submission_ids=ids, how=how))
    if ids and how.lower() != "warm":
        from grading.claims import submission_hand_back

        try:
            handed = submission_hand_back(submission_ids=ids)
            logger.warning("handed back submission(s) %s", handed)
        except Exception:  # noqa: BLE001 - the heartbeat lapses and the sweeper does it
            logger.exception("handing back %s failed; the sweeper will recover them", ids)


@worker_process_shutdown.connect
def drain_the_warm_pool(**_: object) -> None:
    """A pool child that exits removes its waiting sandboxes (a child ends with os._exit,
    which skips atexit); one that is killed leaves them to their own clock and the reaper."""
    from sandbox.pool import drain_all

    try:
        drained = drain_all()
    except Exception:  # the engine may be gone; the containers end by themselves
        logger.warning("could not drain the warm sandbox pool", exc_info=True)
        return
    if drained:
        logger.info("removed %d waiting sandbox(es)", drained)
