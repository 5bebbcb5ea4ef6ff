"""The warm pool: containers started ahead, torch imported, each serving exactly one job.

Real Docker engine, real image. A job of a shape seen before is handed to a waiting
container; it must behave exactly as a cold one (same result, same isolation, wall clock
from the hand-over), and a waiter that died or belongs to another image is never used.
"""

from __future__ import annotations

import time

import pytest

from sandbox import docker_backend
from sandbox.backends import select_backend
from sandbox.docker_backend import LABEL, OWNER_LABEL, worker_identity
from sandbox.types import Job, Limits, Status
from tests.sandbox.programs import PROGRAMS

pytestmark = pytest.mark.docker

PROGRAM = b"""
import sys, torch
print(torch.ones(3).sum().item(), sys.flags.isolated, __name__, sys.argv)
sys.exit(3)
"""


@pytest.fixture
def docker(sandbox_image, monkeypatch):
    monkeypatch.setenv("SANDBOX_POOL_SIZE", "1")
    docker_backend.pool_drain()
    yield select_backend("docker", image=sandbox_image)
    docker_backend.pool_drain()


def _job(source: bytes = PROGRAM, *extra: str) -> Job:
    return Job(files={"main.py": source}, command=["python", "-I", "-B", "main.py", *extra])


def _wait_for_waiter(backend, job: Job, limits: Limits, timeout: float = 90.0):
    key = docker_backend._pool_key(backend.image, job, limits)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with docker_backend._POOL_LOCK:
            waiting = list(docker_backend._POOL.get(key, []))
        if waiting:
            return waiting[0]
        time.sleep(0.1)
    raise AssertionError("no warm container was started for this shape")


def test_a_second_job_of_a_shape_is_served_warm_exactly_as_a_cold_one(docker):
    limits = Limits(wall_s=30)
    cold = docker.run(_job(), limits)
    _wait_for_waiter(docker, _job(), limits)
    warm = docker.run(_job(), limits)
    assert not cold.warm and warm.warm
    assert cold.status == warm.status == Status.RUNTIME_ERROR  # sys.exit(3)
    assert cold.exit_code == warm.exit_code == 3
    assert cold.stdout == warm.stdout == b"3.0 1 __main__ ['main.py']\n"


def test_an_uncaught_exception_and_a_clean_exit_look_the_same_warm(docker):
    limits = Limits(wall_s=30)
    for source, status, code in (
        (b"raise KeyError('boom')\n", Status.RUNTIME_ERROR, 1),
        (b"print('fine')\n", Status.OK, 0),
    ):
        cold = docker.run(_job(source), limits)
        _wait_for_waiter(docker, _job(source), limits)
        warm = docker.run(_job(source), limits)
        assert warm.warm and (cold.status, cold.exit_code) == (warm.status, warm.exit_code) == (
            status,
            code,
        )
        assert (b"KeyError: 'boom'" in warm.stderr) == (code == 1)


def test_a_waiter_that_died_is_never_used(docker):
    limits = Limits(wall_s=30)
    docker.run(_job(), limits)
    waiter = _wait_for_waiter(docker, _job(), limits)
    waiter.container.kill()
    waiter.finished.wait(10)
    result = docker.run(_job(), limits)
    assert result.status == Status.RUNTIME_ERROR and result.exit_code == 3
    assert not result.warm  # the dead one was removed and the job ran cold


def test_the_wall_clock_counts_from_the_hand_over(docker):
    limits = Limits(wall_s=4)
    source = b"import time\ntime.sleep(2)\nprint('slept')\n"
    docker.run(_job(source), limits)
    _wait_for_waiter(docker, _job(source), limits)
    time.sleep(limits.wall_s + 1)  # the waiter has existed longer than the limit
    result = docker.run(_job(source), limits)
    assert result.warm and result.status == Status.OK and result.stdout == b"slept\n"
    stuck = docker.run(_job(b"import time\ntime.sleep(60)\n"), limits)
    _wait_for_waiter(docker, _job(b"import time\ntime.sleep(60)\n"), limits)
    stuck = docker.run(_job(b"import time\ntime.sleep(60)\n"), limits)
    assert stuck.warm and stuck.status == Status.TIMEOUT and stuck.wall_s < limits.wall_s + 3


def test_waiters_are_isolated_and_labelled_like_cold_containers(docker):
    limits = Limits(wall_s=30)
    cold = docker._create(_job(), limits)
    warm = docker._create(_job(), limits, warm=True)
    try:
        cold_host, warm_host = cold.attrs["HostConfig"], warm.attrs["HostConfig"]
        for key in (
            "ReadonlyRootfs",
            "NetworkMode",
            "CapDrop",
            "SecurityOpt",
            "PidsLimit",
            "Memory",
            "MemorySwap",
            "NanoCpus",
            "Tmpfs",
            "IpcMode",
            "Ulimits",
            "Init",
        ):
            assert cold_host[key] == warm_host[key], key  # fmt: skip
        assert cold.attrs["Config"]["User"] == warm.attrs["Config"]["User"] == "65534:65534"
        assert warm.labels[LABEL] == "1" and warm.labels[OWNER_LABEL] == worker_identity()
    finally:
        cold.remove(force=True)
        warm.remove(force=True)


def test_a_new_image_tag_drains_the_waiters_of_the_old_one(docker):
    limits = Limits(wall_s=30)
    docker.run(_job(), limits)
    waiter = _wait_for_waiter(docker, _job(), limits)
    other = (
        "resnet-sandbox:another-tag",
        *docker_backend._pool_key(docker.image, _job(), limits)[1:],
    )
    assert docker_backend._pool_take(other) is None
    import docker as docker_sdk

    with pytest.raises(docker_sdk.errors.NotFound):
        waiter.container.reload()


@pytest.mark.parametrize("name", ["only_the_job_folder_is_writable", "every_socket_family"])
def test_hostile_programs_get_the_same_answer_warm(docker, name):
    program = next(p for p in PROGRAMS if p.name == name)
    job = Job(files={"main.py": program.source, **program.extra_files},
              command=["python", "-I", "main.py"])  # fmt: skip
    cold = docker.run(job, program.limits)
    _wait_for_waiter(docker, job, program.limits)
    warm = docker.run(job, program.limits)
    assert warm.warm
    assert cold.status == warm.status == program.expected, (warm.stdout, warm.stderr[-500:])
    assert program.stdout_has in warm.stdout
