"""The warm pool of both backends: sandboxes started ahead, torch imported, one job each.

Real Docker engine and image; real bubblewrap with its cgroups. A job of a shape seen
before is handed to a waiting sandbox; it must behave exactly as a cold one (same result,
same isolation, wall clock from the hand-over), a waiter serves one job only, and a
waiter that died, went stale or belongs to another generation is never used.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox import bwrap_backend, cgroups, docker_backend, pool
from sandbox.backends import Backend, select_backend
from sandbox.docker_backend import LABEL, OWNER_LABEL, worker_identity
from sandbox.types import Job, Limits, Status
from tests.sandbox.programs import PROGRAMS

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = b"""
import os, sys, torch
print(torch.ones(3).sum().item(), sys.flags.isolated, __name__, sys.argv, os.getppid() == 1)
sys.exit(3)
"""


@pytest.fixture(params=["docker", "bwrap"])
def pooled(request, monkeypatch) -> Backend:
    if request.param == "docker":
        request.getfixturevalue("sandbox_image")
        request.applymarker(pytest.mark.docker)
    else:
        request.getfixturevalue("bwrap_path")
        request.applymarker(pytest.mark.bwrap)
    monkeypatch.setenv("SANDBOX_POOL_SIZE", "1")
    pool.drain_all()
    yield select_backend(request.param)
    pool.drain_all()


def _pool_of(backend: Backend) -> pool.WarmPool:
    return docker_backend.POOL if backend.name == "docker" else bwrap_backend.POOL


def _key(backend: Backend, job: Job, limits: Limits) -> pool.PoolKey:
    if backend.name == "docker":
        return docker_backend.pool_key(backend.image, job, limits)
    return backend.pool_key(job, limits)


def _job(source: bytes = PROGRAM, *extra: str) -> Job:
    return Job(files={"main.py": source}, command=["python", "-I", "-B", "main.py", *extra])


def _wait_for_waiter(backend: Backend, job: Job, limits: Limits, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = _pool_of(backend).waiting(_key(backend, job, limits))
        if waiting:
            return waiting[0]
        time.sleep(0.1)
    raise AssertionError("no warm sandbox was started for this shape")


def _prime(backend: Backend, job: Job, limits: Limits):
    """Start a waiter for this job's shape without running a job, and wait for it."""
    backend._refill(_key(backend, job, limits), job, limits)
    return _wait_for_waiter(backend, job, limits)


LIGHT = b"import sys\nprint('light')\nsys.exit(3)\n"


def _gone(backend: Backend, waiter, timeout: float = 15.0) -> bool:
    """Whether the waiter's sandbox is destroyed, within `timeout` (Docker removes a used
    container on a thread, off the verdict's path)."""
    deadline = time.monotonic() + timeout
    while not _destroyed(backend, waiter):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _destroyed(backend: Backend, waiter) -> bool:
    if backend.name == "docker":
        import docker as docker_sdk

        try:
            waiter.container.reload()
        except docker_sdk.errors.NotFound:
            return True
        return False
    groups = getattr(waiter.cgroup, "paths", None) or {"v2": waiter.cgroup.path}
    return waiter.process.poll() is not None and not any(p.exists() for p in groups.values())


def _kill_waiter(backend: Backend, waiter) -> None:
    if backend.name == "docker":
        waiter.container.kill()
        waiter.finished.wait(10)
    else:
        os.killpg(waiter.process.pid, signal.SIGKILL)
        waiter.process.wait(10)


def test_a_second_job_of_a_shape_is_served_warm_exactly_as_a_cold_one(pooled):
    limits = Limits(wall_s=30)
    cold = pooled.run(_job(), limits)
    _wait_for_waiter(pooled, _job(), limits)
    warm = pooled.run(_job(), limits)
    assert not cold.warm and warm.warm
    assert cold.status == warm.status == Status.RUNTIME_ERROR  # sys.exit(3)
    assert cold.exit_code == warm.exit_code == 3
    # The same interpreter flags, name, argv, and parent (the box's init) as a cold job.
    assert cold.stdout == warm.stdout
    assert cold.stdout.startswith(b"3.0 1 __main__ ['main.py']"), cold.stdout


def test_an_uncaught_exception_and_a_clean_exit_look_the_same_warm(pooled):
    limits = Limits(wall_s=30)
    for source, status, code in (
        (b"raise KeyError('boom')\n", Status.RUNTIME_ERROR, 1),
        (b"print('fine')\n", Status.OK, 0),
    ):
        cold = pooled.run(_job(source), limits)
        _wait_for_waiter(pooled, _job(source), limits)
        warm = pooled.run(_job(source), limits)
        assert warm.warm and (cold.status, cold.exit_code) == (warm.status, warm.exit_code) == (
            status,
            code,
        )
        assert (b"KeyError: 'boom'" in warm.stderr) == (code == 1)
        assert warm.stderr == cold.stderr  # the same traceback: none of the waiter's frames


def test_each_waiter_serves_one_job_and_is_destroyed(pooled):
    """A job never starts in a sandbox that served another: the first leaves a file in the
    writable folder, the second must not find it; the served waiter is gone at once."""
    limits = Limits(wall_s=30)
    source = (
        b"import os\n"
        b"seen = os.path.exists('/tmp/served')\n"
        b"open('/tmp/served', 'w').write('x')\n"
        b"print('reused' if seen else 'fresh')\n"
    )
    first = _prime(pooled, _job(source), limits)
    one = pooled.run(_job(source), limits)
    assert one.warm and one.stdout == b"fresh\n"
    assert _gone(pooled, first)
    second = _wait_for_waiter(pooled, _job(source), limits)  # the refill: a new sandbox
    assert second is not first
    two = pooled.run(_job(source), limits)
    assert two.warm and two.stdout == b"fresh\n"
    assert _gone(pooled, second)


def test_a_waiter_that_died_is_never_used(pooled):
    limits = Limits(wall_s=30)
    waiter = _prime(pooled, _job(LIGHT), limits)
    _kill_waiter(pooled, waiter)
    result = pooled.run(_job(LIGHT), limits)
    assert result.status == Status.RUNTIME_ERROR and result.exit_code == 3
    assert not result.warm  # the dead one was removed and the job ran cold
    assert _gone(pooled, waiter)


def test_a_stale_waiter_is_never_used(pooled, monkeypatch):
    limits = Limits(wall_s=30)
    waiter = _prime(pooled, _job(LIGHT), limits)
    module = docker_backend if pooled.name == "docker" else bwrap_backend
    monkeypatch.setattr(module, "POOL_MAX_AGE_S", 0.0)
    result = pooled.run(_job(LIGHT), limits)
    assert not result.warm and result.exit_code == 3
    assert _gone(pooled, waiter)


def test_the_wall_clock_counts_from_the_hand_over(pooled):
    limits = Limits(wall_s=4)
    source = b"import time\ntime.sleep(2)\nprint('slept')\n"
    _prime(pooled, _job(source), limits)
    time.sleep(limits.wall_s + 1)  # the waiter has existed longer than the limit
    result = pooled.run(_job(source), limits)
    assert result.warm and result.status == Status.OK and result.stdout == b"slept\n"
    stuck = _job(b"import time\ntime.sleep(60)\n")
    _prime(pooled, stuck, limits)
    timed = pooled.run(stuck, limits)
    assert timed.warm and timed.status == Status.TIMEOUT and timed.wall_s < limits.wall_s + 3


def test_a_new_generation_drains_the_waiters_of_the_old_one(pooled):
    """Docker: another image tag; bubblewrap: another bwrap, interpreter or cgroup setup."""
    limits = Limits(wall_s=30)
    waiter = _prime(pooled, _job(), limits)
    other = ("another-generation", *_key(pooled, _job(), limits)[1:])
    assert _pool_of(pooled).take(other) is None
    assert _gone(pooled, waiter)


def test_a_waiter_still_starting_when_the_pool_is_drained_never_joins_it(pooled, monkeypatch):
    """A drain (worker shutdown, a test's teardown) while a refill is importing torch: the
    drain waits for that fill, which destroys its sandbox instead of adding it, so nothing
    of the pool outlives the drain."""
    limits = Limits(wall_s=30)
    job = _job(LIGHT)
    key = _key(pooled, job, limits)
    the_pool = _pool_of(pooled)
    started: list = []
    refill = the_pool.refill

    def spying_refill(k, start):
        refill(k, lambda: started.append(start()) or started[-1])

    monkeypatch.setattr(the_pool, "refill", spying_refill)
    pooled._refill(key, job, limits)
    deadline = time.monotonic() + 60
    while not started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert started, "the refill never started a sandbox"
    assert not started[0].output.waiting.is_set(), "its imports were done already"
    the_pool.drain()
    assert the_pool.waiting(key) == []
    assert _destroyed(pooled, started[0]) or _gone(pooled, started[0], timeout=2)
    time.sleep(1)
    assert the_pool.waiting(key) == [] and len(started) == 1


def test_a_job_with_too_little_memory_for_the_waiters_imports_runs_cold(pooled):
    limits = Limits(wall_s=30, memory_mb=pool.POOL_MIN_MEMORY_MB - 1)
    assert not pooled.run(_job(LIGHT), limits).warm
    time.sleep(1)
    assert _pool_of(pooled).waiting(_key(pooled, _job(LIGHT), limits)) == []


def test_a_gpu_job_is_never_served_by_the_pool(pooled):
    limits = Limits(wall_s=30, gpus="0")
    pooled.run(_job(), limits)  # fails without a GPU here; must not start a waiter either
    time.sleep(1)
    assert _pool_of(pooled).waiting(_key(pooled, _job(), limits)) == []


def test_docker_waiters_are_isolated_and_labelled_like_cold_containers(sandbox_image):
    docker = select_backend("docker", image=sandbox_image)
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


ORPHAN = """
import os, sys, time
os.environ["SANDBOX_POOL_SIZE"] = "1"
from sandbox.backends import select_backend
from sandbox.types import Job, Limits
backend = select_backend(sys.argv[1])
job = Job(files={"main.py": b"print(1)"}, command=["python", "-I", "main.py"])
backend.run(job, Limits(wall_s=30))
from sandbox import docker_backend, bwrap_backend
pool = docker_backend.POOL if sys.argv[1] == "docker" else bwrap_backend.POOL
deadline = time.monotonic() + 90
while not any(pool._waiting.values()) and time.monotonic() < deadline:
    time.sleep(0.1)
print("waiting" if any(pool._waiting.values()) else "none", flush=True)
os._exit(0)  # as a killed worker: no drain, no atexit
"""


def test_the_reaper_removes_the_waiters_of_a_dead_worker(pooled, request):
    """Docker: the orphaned pool container; bubblewrap: the waiter (it dies with its
    parent) and its cgroup."""
    dead = subprocess.Popen(
        [sys.executable, "-c", ORPHAN, pooled.name], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    out, err = dead.communicate(timeout=180)
    assert out.strip() == "waiting", err[-2000:]
    if pooled.name == "docker":
        client = request.getfixturevalue("docker_client")
        orphans = [
            c
            for c in client.containers.list(all=True, sparse=True, filters={"label": LABEL})
            if c.attrs["Labels"].get(OWNER_LABEL, "").split("/")[1:2] == [str(dead.pid)]
        ]
        # The child said its waiter was up. On a shared engine another live worker's
        # periodic reaper may remove it first; whoever does, it must go.
        assert docker_backend.reap_leftovers(client=client) >= len(orphans)
        left = {
            c.id for c in client.containers.list(all=True, sparse=True, filters={"label": LABEL})
        }
        assert not {c.id for c in orphans} & left
    else:
        mine = [g for g in _dead_groups() if _group_name(g).startswith(f"{dead.pid}-")]
        assert mine, "the dead worker's waiter group should be there before the reaper runs"
        assert cgroups.reap_leftovers() >= len(mine)
        assert not [g for g in _dead_groups() if _group_name(g).startswith(f"{dead.pid}-")]


def _group_name(group) -> str:
    return group.path.name if hasattr(group, "path") else next(iter(group.paths.values())).name


def _dead_groups() -> list:
    mechanism, parent = cgroups.limit_mechanism()
    if mechanism == "cgroup2" and parent is not None:
        return cgroups.CgroupV2.leftovers(parent)
    return cgroups.Cgroup.leftovers()


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_hostile_programs_get_the_same_answer_warm(pooled, program, monkeypatch):
    """The adversarial suite's programs, each handed to a waiting sandbox."""
    from tests.sandbox.test_adversarial import processes_carrying, wait_until_gone

    token = os.urandom(8).hex()
    # Pooled jobs have room for the waiter's imports (POOL_MIN_MEMORY_MB); the bombs
    # still reach the limit.
    limits = dataclasses.replace(program.limits, memory_mb=pool.POOL_MIN_MEMORY_MB)
    job = Job(
        files={"main.py": program.source, **program.extra_files},
        command=["python", "-I", "main.py"],
        env={"SANDBOX_TEST_TOKEN": token, "PROJECT_ROOT": str(ROOT)},
    )
    expected = program.expected
    if program.extra_files:
        # Under -I the script's folder is not on sys.path (cold or warm): its own modules
        # do not import. The cold run with the same command says what to expect.
        monkeypatch.setenv("SANDBOX_POOL_SIZE", "0")
        expected = pooled.run(job, limits).status
        monkeypatch.setenv("SANDBOX_POOL_SIZE", "1")
    _prime(pooled, job, limits)
    # No waiter after this job: its environment would carry the token too.
    monkeypatch.setattr(pooled, "_refill", lambda *_: None)
    result = pooled.run(job, limits)
    summary = f"{result.status} exit={result.exit_code} {result.detail!r} {result.stderr[-500:]!r}"
    assert result.warm, summary
    assert result.status == expected, summary
    assert result.wall_s <= limits.wall_s + 3.0, summary
    assert program.stdout_has in result.stdout, result.stdout[-2000:]
    assert wait_until_gone(lambda: processes_carrying(token)) == []


def test_a_warm_jobs_stdout_reaches_its_own_listener(pooled):
    """The listener is handed over with the job: the waiter's first owner (the job whose
    shape started it) never hears the next job, and the next job's listener does."""
    limits = Limits(wall_s=30)
    source = b"import sys\nfor i in range(3):\n    print('tick', i, flush=True)\n"
    heard: dict[str, list[bytes]] = {"first": [], "second": []}

    def job(who: str) -> Job:
        return Job(files={"main.py": source}, command=["python", "-I", "-B", "main.py"],
                   on_stdout=heard[who].append)  # fmt: skip

    pooled.run(job("first"), limits)  # cold; starts the waiter with this Job's shape
    _wait_for_waiter(pooled, job("second"), limits)
    first_heard = b"".join(heard["first"])
    result = pooled.run(job("second"), limits)
    assert result.warm and result.stdout == b"tick 0\ntick 1\ntick 2\n"
    assert b"".join(heard["second"]) == result.stdout
    assert b"".join(heard["first"]) == first_heard  # nothing more for the first job
