"""The warm pool shared by both backends: sandboxes started ahead, one job each.

A sandbox in the pool (a "waiter") is started with the same isolation as a cold one and
runs WARM_BOOTSTRAP (sandbox/bootstrap.py): torch and numpy imported, blocked on its
stdin until its one job arrives; it joins the pool only once it says its imports are done. Waiters are kept per job shape (the key: a generation
first, then image or interpreter, limits, environment and command). A waiter serves
exactly one job and is destroyed; the pool refills in the background. A waiter that
exited, wrote anything before its job, or is older than POOL_MAX_AGE_S is destroyed and
never used. Asking for a key whose generation differs from that of waiting ones (a new
image tag, another interpreter) drains the old generation. The pool is per process.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

from sandbox.bootstrap import warm_servable
from sandbox.types import Job, Limits

# A waiter older than this is never handed a job (its own clock covers this long a wait).
POOL_MAX_AGE_S = 600.0
# A waiter holds about 185 MB (torch, numpy) inside its job's memory limit: a job
# with a tighter limit than this runs cold, so that its room is not taken by our imports.
POOL_MIN_MEMORY_MB = 768
# A waiter joins the pool only once its imports are done (WAITING said); one that takes
# longer than this is destroyed.
WARM_START_S = 120.0


class Waiter(Protocol):
    def usable(self) -> bool:
        """Alive, silent so far, and young enough to be handed a job."""
        ...

    def discard(self) -> None:
        """Destroy it (it will never run a job)."""
        ...

    def warmed(self, timeout: float) -> bool:
        """Wait until its imports are done; False when it died or took too long."""
        ...


W = TypeVar("W", bound=Waiter)
PoolKey = tuple[Hashable, ...]


def pool_size() -> int:
    """Waiters kept per job shape in this process (SANDBOX_POOL_SIZE; 0: no pool)."""
    try:
        return max(0, int(os.environ.get("SANDBOX_POOL_SIZE", "1")))
    except ValueError:
        return 1


def poolable(job: Job, limits: Limits) -> bool:
    """Whether this job is handed to a waiter: the pool is on, the command is one the
    waiter runs exactly as a fresh Python would, its memory limit leaves room for the
    waiter's imports, and it asks for no GPU (a GPU job takes its device's slot for its
    own run only)."""
    return (
        pool_size() > 0
        and limits.gpus == "none"
        and limits.memory_mb >= POOL_MIN_MEMORY_MB
        and warm_servable(job.command)
    )


class WarmPool(Generic[W]):
    """Waiters of one backend in this process, by job shape."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._waiting: dict[PoolKey, list[W]] = {}
        self._filling: set[PoolKey] = set()
        self._lock = threading.Lock()
        self._fills_done = threading.Condition(self._lock)
        # Bumped by each drain: a fill that started before it destroys what it started
        # instead of adding it, so nothing of the pool outlives a drain.
        self._epoch = 0
        _POOLS.append(self)

    def waiting(self, key: PoolKey) -> list[W]:
        """The waiters of this shape now (a copy)."""
        with self._lock:
            return list(self._waiting.get(key, []))

    def take(self, key: PoolKey) -> W | None:
        """A usable waiter of this shape, or None; unusable ones are destroyed on the way,
        and so is every waiter of another generation than `key[0]`."""
        while True:
            with self._lock:
                queue = self._waiting.get(key, [])
                waiter = queue.pop(0) if queue else None
                old = [k for k in self._waiting if k[0] != key[0]]
                drained = [w for k in old for w in self._waiting.pop(k)]
            for stale in drained:
                stale.discard()
            if waiter is None:
                return None
            if waiter.usable():
                return waiter
            waiter.discard()

    def refill(self, key: PoolKey, start: Callable[[], W]) -> None:
        """Start waiters of this shape with `start` until pool_size() wait, on a thread.

        A failure leaves the pool short: the next job runs cold and asks again.
        """
        with self._lock:
            if key in self._filling or len(self._waiting.get(key, [])) >= pool_size():
                return
            self._filling.add(key)
            epoch = self._epoch

        def fill() -> None:
            try:
                while True:
                    with self._lock:
                        if self._epoch != epoch or len(self._waiting.get(key, [])) >= pool_size():
                            return
                    waiter = start()
                    if not waiter.warmed(WARM_START_S):
                        waiter.discard()
                        return
                    with self._lock:
                        current = self._epoch == epoch
                        if current:
                            self._waiting.setdefault(key, []).append(waiter)
                    if not current:  # drained while it started: never joins the pool
                        waiter.discard()
                        return
            except Exception:
                pass  # the next job runs cold and tries again
            finally:
                with self._lock:
                    self._filling.discard(key)
                    self._fills_done.notify_all()

        threading.Thread(target=fill, daemon=True, name=f"{self.name}-pool").start()

    def drain(self, wait_s: float = 30.0) -> int:
        """Destroy every waiter of this pool, and wait (up to `wait_s`) for fills under way
        to destroy what they were starting; returns how many waiters were destroyed."""
        with self._lock:
            self._epoch += 1
            waiting = [w for ws in self._waiting.values() for w in ws]
            self._waiting.clear()
        for waiter in waiting:
            waiter.discard()
        with self._fills_done:
            self._fills_done.wait_for(lambda: not self._filling, timeout=wait_s)
        return len(waiting)


_POOLS: list[WarmPool] = []


def drain_all() -> int:
    """Destroy the waiters of every backend's pool in this process; returns how many."""
    return sum(pool.drain() for pool in _POOLS)


atexit.register(drain_all)
