"""Hostile programs against each real backend: each ends with its expected status, within
its limit, and leaves nothing behind (no container, no process, no worker memory), and a
normal job still runs afterwards."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from sandbox.backends import Backend
from sandbox.docker_backend import LABEL
from sandbox.types import Job, Limits, Status
from tests.sandbox.programs import PROGRAMS, Program

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FAKE_SECRET_KEY = "django-insecure-fake-secret-for-the-sandbox-test"
FAKE_DB_PASSWORD = "hunter2-fake-db-password"
# The backend's own bookkeeping after the cap (kill, wait, removal) fits in this.
WALL_MARGIN_S = 3.0
# Worker RSS may wobble with allocator caches, but a flood kept in memory would be far more.
RSS_GROWTH_LIMIT_KB = 40 * 1024


def worker_rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def processes_carrying(token: str) -> list[int]:
    """Host pids whose command line or environment carries the job's token."""
    found = []
    needle = token.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        for part in ("cmdline", "environ"):
            try:
                if needle in Path(f"/proc/{entry}/{part}").read_bytes():
                    found.append(int(entry))
                    break
            except OSError:
                continue
    return found


def containers_carrying(token: str) -> list[str]:
    import docker

    client = docker.from_env()
    names = []
    # Listed sparse, then inspected one by one: a used container is removed on a thread,
    # and may go between the listing and its inspection.
    for listed in client.containers.list(all=True, sparse=True, filters={"label": LABEL}):
        try:
            container = client.containers.get(listed.id)
        except docker.errors.NotFound:
            continue
        env = container.attrs["Config"].get("Env") or []
        if any(token in entry for entry in env):
            names.append(container.name)
    return names


def run_program(backend: Backend, program: Program, token: str) -> tuple[object, float]:
    files = {"main.py": program.source, **program.extra_files}
    job = Job(
        files=files,
        command=["python", "main.py"],
        env={"SANDBOX_TEST_TOKEN": token, "PROJECT_ROOT": str(PROJECT_ROOT)},
    )
    began = time.monotonic()
    result = backend.run(job, program.limits)
    return result, time.monotonic() - began


def wait_until_gone(check, timeout: float = 5.0) -> list:
    deadline = time.monotonic() + timeout
    left = check()
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = check()
    return left


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_hostile_program_ends_as_expected_and_leaves_nothing_behind(
    backend: Backend, program: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_SECRET_KEY", FAKE_SECRET_KEY)
    monkeypatch.setenv("DATABASE_URL", f"postgres://app:{FAKE_DB_PASSWORD}@127.0.0.1:5432/app")
    token = uuid.uuid4().hex
    rss_before = worker_rss_kb()

    result, elapsed = run_program(backend, program, token)

    summary = f"{result.status} exit={result.exit_code} detail={result.detail!r} stderr={result.stderr[-500:]!r}"
    assert result.status == program.expected, summary
    assert result.wall_s <= program.limits.wall_s + WALL_MARGIN_S, summary
    assert elapsed <= program.limits.wall_s + 2 * WALL_MARGIN_S, summary
    assert program.stdout_has in result.stdout, result.stdout[-2000:]
    for secret in (FAKE_SECRET_KEY, FAKE_DB_PASSWORD):
        assert secret.encode() not in result.stdout + result.stderr
    assert len(result.stdout) <= program.limits.output_bytes
    assert len(result.stderr) <= program.limits.output_bytes
    if result.status == Status.OUTPUT_LIMIT:
        assert result.stdout_truncated or result.stderr_truncated

    assert wait_until_gone(lambda: processes_carrying(token)) == []
    if backend.name == "docker":
        assert wait_until_gone(lambda: containers_carrying(token)) == []
    assert worker_rss_kb() - rss_before <= RSS_GROWTH_LIMIT_KB

    after = backend.run(
        Job(files={"main.py": b"print(6 * 7)"}, command=["python", "main.py"]), Limits()
    )
    assert (after.status, after.stdout) == (Status.OK, b"42\n"), after.detail
