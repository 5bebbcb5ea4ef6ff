"""Faults around a Docker job: who killed it decides whose failure it is, and a job whose
worker died still ends on time by itself."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sandbox.docker_backend import LABEL, OWNER_LABEL, DockerBackend, worker_identity
from sandbox.types import Job, Limits, Status

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parents[2]


def _sleeper(seconds: float) -> Job:
    return Job(
        files={"main.py": f"import time\ntime.sleep({seconds})\n".encode()},
        command=["python", "main.py"],
    )


@pytest.fixture(autouse=True)
def no_warm_pool(monkeypatch):
    """These tests find the job's container by its owner: this process's warm pool (from
    earlier gradings) must not run containers of the same owner meanwhile."""
    from sandbox.docker_backend import pool_drain

    monkeypatch.setenv("SANDBOX_POOL_SIZE", "0")
    pool_drain()


def _running_container(client, owner: str, timeout_s: float = 30.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = client.containers.list(filters={"label": f"{OWNER_LABEL}={owner}"})
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no running sandbox container of {owner} within {timeout_s} s")


def _run_and_kill_from_outside(docker_client, sandbox_image: str, signal: str) -> object:
    backend = DockerBackend(client=docker_client, image=sandbox_image)
    outcome: dict[str, object] = {}
    runner = threading.Thread(
        target=lambda: outcome.update(result=backend.run(_sleeper(30), Limits(wall_s=25)))
    )
    runner.start()
    container = _running_container(docker_client, worker_identity())
    time.sleep(1.5)  # into the job's own sleep, past the bootstrap
    subprocess.run(["docker", "kill", "--signal", signal, container.id], check=True,
                   capture_output=True)  # fmt: skip
    runner.join(timeout=30)
    return outcome["result"]


@pytest.mark.parametrize("signal", ["KILL", "TERM"])
def test_a_container_killed_from_outside_is_our_failure_not_the_candidates(
    docker_client, sandbox_image: str, signal: str
) -> None:
    result = _run_and_kill_from_outside(docker_client, sandbox_image, signal)
    assert result.status == Status.SANDBOX_ERROR, (result.status, result.exit_code)
    assert "killed from outside" in result.detail
    assert result.wall_s < 10


def test_a_job_that_kills_itself_stays_the_candidates_runtime_error(sandbox_image: str) -> None:
    import docker

    backend = DockerBackend(client=docker.from_env(), image=sandbox_image)
    job = Job(
        files={"main.py": b"import os, signal, time\ntime.sleep(0.5)\n"
               b"os.kill(os.getpid(), signal.SIGKILL)\n"},
        command=["python", "main.py"],
    )  # fmt: skip
    result = backend.run(job, Limits(wall_s=10))
    assert result.status == Status.RUNTIME_ERROR, (result.status, result.detail)
    assert result.exit_code == 137


def _state(container) -> str:
    import docker.errors

    try:
        container.reload()
    except docker.errors.NotFound:
        return "gone"
    return container.status


ORPHAN_WORKER = """
import sys, docker
from sandbox.docker_backend import DockerBackend
from sandbox.types import Job, Limits
job = Job(files={"main.py": b"import time\\ntime.sleep(600)\\n"}, command=["python", "main.py"])
DockerBackend(client=docker.from_env(), image=sys.argv[1]).run(job, Limits(wall_s=3))
"""


def test_a_job_whose_worker_died_ends_on_time_by_itself(docker_client, sandbox_image: str):
    worker = subprocess.Popen([sys.executable, "-c", ORPHAN_WORKER, sandbox_image], cwd=ROOT)
    try:
        container = _running_container(docker_client, worker_identity(worker.pid))
        worker.kill()  # as a pool child SIGKILLed mid-grade: nobody keeps the wall clock
        worker.wait()
        began = time.monotonic()
        assert _state(container) == "running"  # orphaned, not ended with its worker
        while _state(container) == "running" and time.monotonic() - began < 20:
            time.sleep(0.2)
        # Its own clock: 3 s wall + the inside grace (5 s) from its start. (Another
        # worker's reaper may remove it first: its owner is dead. Gone is ended too.)
        assert _state(container) != "running", "the orphan ran past its own deadline"
        assert time.monotonic() - began < 3 + 5 + 2
    finally:
        worker.kill()
        for left in docker_client.containers.list(
            all=True, filters={"label": f"{OWNER_LABEL}={worker_identity(worker.pid)}"}
        ):
            left.remove(force=True)


def test_the_reaper_removes_a_container_past_its_deadline_even_if_its_owner_lives(
    docker_client, sandbox_image: str
) -> None:
    from sandbox.docker_backend import DEADLINE_LABEL, reap_leftovers

    labels = {LABEL: "1", OWNER_LABEL: worker_identity()}
    overdue = docker_client.containers.create(
        sandbox_image,
        command=["true"],
        labels={**labels, DEADLINE_LABEL: f"{time.time() - 60:.0f}"},
    )
    current = docker_client.containers.create(
        sandbox_image,
        command=["true"],
        labels={**labels, DEADLINE_LABEL: f"{time.time() + 60:.0f}"},
    )
    try:
        reap_leftovers(client=docker_client)
        left = {
            c.id
            for c in docker_client.containers.list(all=True, sparse=True, filters={"label": LABEL})
        }
        assert overdue.id not in left and current.id in left
    finally:
        for container in (overdue, current):
            try:
                container.remove(force=True)
            except Exception:
                pass


def test_a_worker_reaps_leftovers_periodically_not_only_at_start(docker_client, sandbox_image):
    from grading.signals import PeriodicReaper

    dead = subprocess.Popen(["true"])
    dead.wait()
    left = docker_client.containers.create(
        sandbox_image, command=["true"], labels={LABEL: "1", OWNER_LABEL: worker_identity(dead.pid)}
    )
    reaper = PeriodicReaper(every_s=0.5)
    reaper.start()
    try:
        assert _state(left) == "gone" or _wait_gone(left, timeout_s=5), "not reaped"
    finally:
        reaper.stop()
        if _state(left) != "gone":
            left.remove(force=True)


def _wait_gone(container, *, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _state(container) == "gone":
            return True
        time.sleep(0.1)
    return False
