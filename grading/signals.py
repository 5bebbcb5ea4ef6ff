"""Worker start-up: clear what a crashed worker left behind, then recover stuck rows.

The embedded `serve` command runs a worker without beat, so the sweep also runs once
whenever a worker becomes ready: a restart is exactly when rows were left running.
"""

from __future__ import annotations

import logging

from celery.signals import worker_ready

logger = logging.getLogger(__name__)


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

    from grading.services import submission_sweep

    reap_sandbox_leftovers()
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
