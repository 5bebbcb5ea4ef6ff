"""Job.cancel: a caller stops a running job (a learner cancels a lab). Real Docker engine
and real bubblewrap, cold and from the warm pool: the job is killed within a second of
the request, the run ends CANCELLED (not a timeout, not our failure), nothing it left
keeps running, and a job nobody cancels is not touched by an unset event."""

from __future__ import annotations

import threading
import time

import pytest

from sandbox import pool
from sandbox.backends import Backend, select_backend
from sandbox.types import Job, Limits, Status

# Writes a line, then works for a long time: the line tells the test the job is running.
LONG_JOB = b"""
import sys, time
sys.stdout.write("started\\n"); sys.stdout.flush()
t = time.monotonic()
while time.monotonic() - t < 60:
    sum(range(10000))
"""


@pytest.fixture(params=["cold", "warm"])
def pool_size(request, monkeypatch) -> str:
    monkeypatch.setenv("SANDBOX_POOL_SIZE", "0" if request.param == "cold" else "1")
    pool.drain_all()
    yield request.param
    pool.drain_all()


def _cancelled_run(backend: Backend, warm: str) -> tuple[object, float, float]:
    """Run LONG_JOB, set its cancel event once it printed; (result, seconds from the
    request to the result, seconds the job had run by then)."""
    cancel = threading.Event()
    started = threading.Event()
    job = Job(
        files={"main.py": LONG_JOB},
        command=["python", "-I", "-B", "main.py"],
        on_stdout=lambda chunk: started.set(),
        cancel=cancel,
    )
    limits = Limits(wall_s=60)
    if warm == "warm":
        # A first job of this shape fills the pool; the second is served from it.
        first = backend.run(Job(files={"main.py": b"print(1)"}, command=job.command), limits)
        assert first.status == Status.OK, first.detail
        time.sleep(3)
    box: dict = {}
    t0 = time.monotonic()
    runner = threading.Thread(target=lambda: box.update(result=backend.run(job, limits)))
    runner.start()
    assert started.wait(90), "the job never started"
    asked = time.monotonic()
    cancel.set()
    runner.join(30)
    assert not runner.is_alive(), "cancel did not stop the run"
    return box["result"], time.monotonic() - asked, asked - t0


def test_a_cancelled_job_is_killed_at_once_and_says_so(backend: Backend, pool_size) -> None:
    result, after_request, ran = _cancelled_run(select_backend(backend.name), pool_size)
    assert result.status == Status.CANCELLED, (result.status, result.detail)
    assert result.stdout == b"started\n"
    assert after_request < 3.0, f"{after_request:.1f} s from the request to the result"
    assert result.wall_s < 30, "the job ran on after the request"
    assert result.warm == (pool_size == "warm")


def test_an_unset_cancel_event_changes_nothing(backend: Backend) -> None:
    job = Job(
        files={"main.py": b"print('done')"},
        command=["python", "-I", "-B", "main.py"],
        cancel=threading.Event(),
    )
    result = backend.run(job, Limits(wall_s=30))
    assert result.status == Status.OK, result.detail
    assert result.stdout == b"done\n"
