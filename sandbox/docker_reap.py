"""The labels on every Docker sandbox container, and the reaper that goes by them.

Every container (cold or waiting in the pool) carries the identity of the worker process
that made it and the time by which it must be over, so that a worker starting up, and
the worker's periodic reaper, remove what dead workers left without touching the
containers of live ones.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import datetime
from typing import Any

LABEL = "resnet-sandbox.job"
# Which worker process made the container: host, pid and the pid's start time (pids get
# reused), so one worker's start-up never reaps another live worker's jobs.
OWNER_LABEL = "resnet-sandbox.owner"
# When the container must be over by (unix time), inside deadline included: the reaper
# removes a container past it whoever owns it, should even the inside deadline fail.
DEADLINE_LABEL = "resnet-sandbox.deadline"
# Past its deadline label plus this, a container is reaped even if its worker lives.
DEADLINE_REAP_SLACK_S = 30.0
# A labelled container whose owner cannot be checked (another host sharing the engine) is
# reaped only once it is older than any job can be.
FOREIGN_STALE_AFTER_S = 3600.0


def labels(*, over_by: float) -> dict[str, str]:
    """The labels of a container made by this process that must be over by `over_by`."""
    return {LABEL: "1", OWNER_LABEL: worker_identity(), DEADLINE_LABEL: f"{over_by:.0f}"}


def _start_ticks(pid: int) -> str | None:
    try:
        stat = open(f"/proc/{pid}/stat").read()  # noqa: SIM115 - tiny read
    except OSError:
        return None
    # Field 22 (starttime); the command name in field 2 may hold spaces, so split after ")".
    return stat.rsplit(")", 1)[1].split()[19]


def worker_identity(pid: int | None = None) -> str:
    pid = pid or os.getpid()
    return f"{socket.gethostname()}/{pid}/{_start_ticks(pid)}"


def _owner_alive(owner: str) -> bool | None:
    """True/False for an owner on this host; None when it lives elsewhere (or is unknown)."""
    try:
        host, pid, ticks = owner.split("/")
    except ValueError:
        return None
    if host != socket.gethostname():
        return None
    return _start_ticks(int(pid)) == ticks


def _age_s(container: Any) -> float:
    created = container.attrs.get("Created", "")
    try:
        # The engine writes nanoseconds; fromisoformat takes at most microseconds.
        stamp = datetime.fromisoformat(created[:26].rstrip("Z") + "+00:00")
    except ValueError:
        return float("inf")
    return time.time() - stamp.timestamp()


def _deadline(container: Any) -> float:
    try:
        return float(container.labels.get(DEADLINE_LABEL, "inf"))
    except ValueError:
        return float("inf")


def reap_leftovers(*, client: Any, stale_after_s: float = FOREIGN_STALE_AFTER_S) -> int:
    """Remove the containers whose worker is gone; returns how many went.

    A container of a live worker on this host is left alone, and one from another host
    (workers sharing an engine) only goes once older than `stale_after_s`; either goes
    once past its own deadline label (plus DEADLINE_REAP_SLACK_S), whoever owns it.
    """
    removed = 0
    now = time.time()
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        alive = _owner_alive(container.labels.get(OWNER_LABEL, ""))
        overdue = now > _deadline(container) + DEADLINE_REAP_SLACK_S
        if not overdue and (alive or (alive is None and _age_s(container) < stale_after_s)):
            continue
        try:
            container.remove(force=True)
            removed += 1
        except Exception:
            pass  # removed by someone else meanwhile
    return removed
