"""Runs a test's gradings in warm sandboxes of the pool as well as in cold ones.

`sandbox_mode` (import it into a test module, with `pytestmark` or by name) runs each
test twice: "cold" with the pool off, and "pooled", where every sandbox run of the
engine is handed to a waiting sandbox started for its shape (the run asserts it was
served warm), so that what holds against a fresh container holds against a pooled one.
"""

from __future__ import annotations

import time

import pytest

import sandbox
from sandbox import docker_backend
from sandbox.backends import select_backend
from sandbox.types import Job, Limits, RunResult


def _pooled_run(
    job: Job, limits: Limits | None = None, *, backend: str = "auto", image: str | None = None
) -> RunResult:
    limits = limits or Limits()
    chosen = select_backend(backend, image=image)
    assert chosen.name == "docker", "the pooled forgery runs are Docker's"
    key = docker_backend.pool_key(chosen.image, job, limits)
    chosen._refill(key, job, limits)
    deadline = time.monotonic() + 120
    while not docker_backend.POOL.waiting(key):
        assert time.monotonic() < deadline, "no warm sandbox for this job"
        time.sleep(0.1)
    result = chosen.run(job, limits)
    assert result.warm, result
    return result


@pytest.fixture(params=["cold", "pooled"], autouse=True)
def sandbox_mode(request, monkeypatch) -> str:
    docker_backend.pool_drain()
    if request.param == "cold":
        monkeypatch.setenv("SANDBOX_POOL_SIZE", "0")
    else:
        monkeypatch.setenv("SANDBOX_POOL_SIZE", "1")
        monkeypatch.setattr(sandbox, "run", _pooled_run)
    yield request.param
    docker_backend.pool_drain()
