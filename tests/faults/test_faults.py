"""The fault suite: submissions over the API while faults are injected into the full stack.

Real Postgres (pytest-django's test database), a Redis of its own (so that restarting it
disturbs nobody else), two `celery worker` graders, the sweeper with beat on its own
queue, and the Docker sandbox. Faults: a sandbox container killed from outside, a pool
child SIGKILLed mid-grade, a POST while the broker is down (retried with an
Idempotency-Key), a Redis restart without persistence, a whole worker SIGKILLed, a worker
stopped with SIGTERM. Then: every submission final, none lost, none graded twice, every
verdict right, no container left, and each recovery within 30 s. Prints a table.

Run by `.ci/run` (RUN_FAULTS=1); skipped otherwise, as it takes minutes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import docker.errors
import pytest
from django.test import Client

from accounts import services as account_services
from grading import dispatch
from grading.models import Submission, TestResult
from sandbox.docker_backend import OWNER_LABEL
from tests.conftest import free_port
from tests.grading.conftest import (
    _stop_group,
    _wait_for_sessions_to_end,
    database_url,
    reference_solution,
)

pytestmark = [
    pytest.mark.faults,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.docker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(os.environ.get("RUN_FAULTS") != "1", reason="set RUN_FAULTS=1"),
]

ROOT = Path(__file__).resolve().parents[2]
FINAL = {"passed", "failed", "error", "sandbox_error"}
RECOVERY_BOUND_S = 30.0
SANDBOXED = 32  # graded in a container: half right, half wrong
REFUSED_FAST = 68  # syntax errors: wrong, decided without a container
CORRECT = reference_solution("param-count")
WRONG = CORRECT.replace("return 2 * 9 * C * C", "return 2 * 9 * C * C + 1")
BROKEN = "def count_params_basic(C:\n    return 0\n"


class Stack:
    def __init__(self, *, tmp: Path, env: dict[str, str], redis_port: int) -> None:
        self.tmp, self.env, self.redis_port = tmp, env, redis_port
        self.redis: subprocess.Popen | None = None
        self.workers: dict[str, subprocess.Popen] = {}

    def start_redis(self) -> None:
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        client = redis.Redis(port=self.redis_port)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop_redis(self) -> None:
        assert self.redis is not None
        self.redis.kill()
        self.redis.wait()

    def log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def start_worker(self, name: str, *, sweeper: bool = False) -> subprocess.Popen:
        args = [sys.executable, "-m", "celery", "-A", "config", "worker", "-n", f"{name}@%h",
                "--loglevel", "INFO", "--without-gossip", "--without-mingle"]  # fmt: skip
        if sweeper:
            args += ["-Q", "grade.sweep", "--pool", "solo", "--beat",
                     "--schedule", str(self.tmp / "beat-schedule")]  # fmt: skip
        else:
            args += ["-Q", "grade.cpu", "--concurrency", "1"]
        out = self.log(name).open("w")
        proc = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
        self.workers[name] = proc
        return proc

    def wait_ready(self, name: str, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while "ready." not in self.log(name).read_text():
            assert self.workers[name].poll() is None, self.log(name).read_text()[-3000:]
            assert time.monotonic() < deadline, f"{name} not ready"
            time.sleep(0.2)

    def stop_all(self) -> None:
        for proc in self.workers.values():
            try:
                _stop_group(proc)
            except ProcessLookupError:
                pass
        if self.redis is not None and self.redis.poll() is None:
            self.stop_redis()


def _running_container(client, image: str, timeout_s: float = 90.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        running = client.api.containers(filters={"ancestor": image, "status": "running"})
        if running:
            try:
                return client.containers.get(running[0]["Id"])
            except docker.errors.NotFound:
                continue  # it ended meanwhile
        time.sleep(0.1)
    raise AssertionError("no sandbox container ran")


class StartCounter(threading.Thread):
    """Counts container starts of one image, from the engine's live event stream (its
    stored log keeps only the last few hundred events of everyone using the engine)."""

    def __init__(self, client, image: str) -> None:
        super().__init__(daemon=True)
        self.count = 0
        self._events = client.events(
            filters={"type": "container", "event": "start", "image": image}, decode=True
        )

    def run(self) -> None:
        try:
            for _event in self._events:
                self.count += 1
        except Exception:
            pass  # closed at the end

    def close(self) -> int:
        time.sleep(1)  # the last start's event is on its way
        self._events.close()
        return self.count


def _grading_in_progress(client, image: str, timeout_s: float = 90.0):
    """A running container and the rows being graded, seen together."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        container = _running_container(client, image)
        rows = _running_rows()
        if rows:
            return container, rows
        time.sleep(0.2)
    raise AssertionError("no grading in progress")


def _running_rows() -> dict[int, object]:
    return dict(Submission.objects.filter(status="running").values_list("pk", "started_at"))


def _wait_recovered(rows: dict[int, object], timeout_s: float = 60.0) -> float:
    """Seconds until each of these rows is final or claimed again (a new claim)."""
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        now = dict(Submission.objects.filter(pk__in=rows).values_list("pk", "started_at"))
        states = dict(Submission.objects.filter(pk__in=rows).values_list("pk", "status"))
        if all(states[pk] in FINAL or now[pk] not in (None, rows[pk]) for pk in rows):
            return time.monotonic() - began
        time.sleep(0.2)
    return float("inf")


def _wait_messages_back(timeout_s: float = 60.0) -> float:
    """Seconds until no queued row lacks its message in the broker."""
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        held = dispatch.submissions_in_broker()
        queued = set(Submission.objects.filter(status="queued").values_list("pk", flat=True))
        if held is not None and not (queued - held):
            return time.monotonic() - began
        time.sleep(0.2)
    return float("inf")


def test_faults_cost_seconds_and_never_a_wrong_verdict(
    postgres, redis_url, sandbox_image, docker_client, django_user_model, tmp_path, monkeypatch
):
    from config.celery_app import app

    # The suite's own tag of the sandbox image: its containers are told apart from those
    # of anyone else using the same engine.
    image = f"resnet-sandbox-faults:{os.getpid()}"
    docker_client.images.get(sandbox_image).tag(image)
    redis_port = free_port()
    broker = f"redis://127.0.0.1:{redis_port}/0"
    env = {**os.environ, "DATABASE_URL": database_url(postgres.settings_dict),
           "CELERY_BROKER_URL": broker, "SANDBOX_BACKEND": "docker",
           "SANDBOX_IMAGE": image, "PYTHONUNBUFFERED": "1",
           # Cold containers only: the suite counts container starts and leftovers, and
           # a warm pool keeps one waiting per worker on purpose.
           "SANDBOX_POOL_SIZE": "0"}  # fmt: skip
    monkeypatch.setenv("CELERY_BROKER_URL", broker)
    old_url = app.conf.broker_url
    app.conf.broker_url = broker
    app._after_fork()
    stack = Stack(tmp=tmp_path, env=env, redis_port=redis_port)
    starts = StartCounter(docker_client, image)
    starts.start()
    began = time.monotonic()
    table: list[tuple[str, str, str]] = []
    try:
        stack.start_redis()
        for name, sweeper in (("sweeper", True), ("g1", False), ("g2", False)):
            stack.start_worker(name, sweeper=sweeper)
        for name in ("sweeper", "g1", "g2"):
            stack.wait_ready(name)

        user = django_user_model.objects.create_user(username="faults", password="pw-faults-1")
        _token, key = account_services.api_token_create(user=user)
        api = Client(headers={"Authorization": f"Bearer {key}"})

        def post(code: str, idem: str | None = None):
            headers = {"Idempotency-Key": idem} if idem else {}
            return api.post("/api/submissions", json.dumps({"exercise": "param-count",
                            "code": code}), content_type="application/json", headers=headers)  # fmt: skip

        expected: dict[int, str] = {}
        plan = [CORRECT, WRONG] * (SANDBOXED // 2) + [BROKEN] * REFUSED_FAST
        plan = [plan[i] for i in sorted(range(len(plan)), key=lambda i: (i * 7919) % len(plan))]
        for code in plan:
            response = post(code)
            assert response.status_code == 201, response.content
            verdict = {CORRECT: "passed", WRONG: "failed", BROKEN: "error"}[code]
            expected[response.json()["id"]] = verdict

        # 1. A sandbox container killed from outside: our failure, retried.
        container = _running_container(docker_client, image)
        time.sleep(1.0)
        subprocess.run(["docker", "kill", container.id], capture_output=True, check=False)
        table.append(("docker kill of a sandbox container", "retried as sandbox_error", "-"))

        # 2. A pool child SIGKILLed mid-grade: its claim lapses, the sweeper re-sends it.
        container, rows = _grading_in_progress(docker_client, image)
        child = int(container.labels[OWNER_LABEL].split("/")[1])
        os.kill(child, signal.SIGKILL)
        took = _wait_recovered(rows)
        table.append(("pool child SIGKILLed mid-grade", f"{took:.1f} s",
                      f"{len(rows)} running row(s) re-claimed or final"))  # fmt: skip
        assert took <= RECOVERY_BOUND_S

        # 3. The broker down: a POST still answers 201, a retry with its key is the same.
        stack.stop_redis()
        down = post(CORRECT, idem="while-redis-is-down")
        again = post(CORRECT, idem="while-redis-is-down")
        assert down.status_code == again.status_code == 201, down.content
        assert down.json()["id"] == again.json()["id"]
        expected[down.json()["id"]] = "passed"
        # 4. ... and comes back empty (no persistence): the sweeper re-sends the backlog.
        time.sleep(2)
        stack.start_redis()
        took = _wait_messages_back()
        backlog = Submission.objects.filter(status="queued").count()
        table.append(("Redis restarted, no persistence", f"{took:.1f} s",
                      f"{backlog} queued re-sent; POST while down: 201, key replayed"))  # fmt: skip
        assert took <= RECOVERY_BOUND_S

        # 5. A whole worker SIGKILLed mid-grade; a new one starts.
        _container, rows = _grading_in_progress(docker_client, image)
        os.killpg(stack.workers["g1"].pid, signal.SIGKILL)
        stack.start_worker("g3")
        took = _wait_recovered(rows)
        table.append(("worker SIGKILLed mid-grade", f"{took:.1f} s",
                      f"{len(rows)} running row(s) re-claimed or final"))  # fmt: skip
        assert took <= RECOVERY_BOUND_S

        # 6. A worker asked to stop (a deploy's SIGTERM) finishes its grading and says so.
        _running_container(docker_client, image)
        stack.workers["g2"].send_signal(signal.SIGTERM)
        stack.workers["g2"].wait(timeout=120)
        said = re.findall(r"warm shutdown: [^\n]*", stack.log("g2").read_text())
        assert said, stack.log("g2").read_text()[-2000:]
        stack.start_worker("g4")
        table.append(("worker SIGTERM (graceful)", "-", said[0]))

        # Every submission ends, right, once.
        deadline = time.monotonic() + 240
        while Submission.objects.exclude(status__in=FINAL).exists():
            assert time.monotonic() < deadline, list(
                Submission.objects.exclude(status__in=FINAL).values("pk", "status", "attempts")
            )
            time.sleep(0.5)
        rows = {r.pk: r for r in Submission.objects.filter(user=user)}
        assert set(rows) == set(expected), "a submission was lost or duplicated"
        wrong = {pk: (rows[pk].status, want) for pk, want in expected.items()
                 if rows[pk].status != want}  # fmt: skip
        assert wrong == {}
        for pk, row in rows.items():
            assert TestResult.objects.filter(submission_id=pk).count() == row.total, pk
        retried = sum(1 for row in rows.values() if row.attempts)
        runs = starts.close()
        # Each sandboxed submission once, plus the reruns the faults caused.
        assert SANDBOXED + 1 <= runs <= SANDBOXED + 1 + 2 * retried + 6

        deadline = time.monotonic() + 40
        # The low-level list: the high-level one inspects each and races their removal.
        while docker_client.api.containers(all=True, filters={"ancestor": image}):
            assert time.monotonic() < deadline, "sandbox containers were left behind"
            time.sleep(1)
        total = time.monotonic() - began
        table.append(("all", f"{total:.0f} s", f"{len(rows)} submissions, {runs} sandbox "
                      f"runs, {retried} retried, 0 lost, 0 wrong, 0 left"))  # fmt: skip
    finally:
        width = max(len(row[0]) for row in table) if table else 10
        print("\nfault".ljust(width + 1), "recovery", "  what")
        for fault, took, what in table:
            print(fault.ljust(width), took.rjust(8), " ", what)
        stack.stop_all()
        app.conf.broker_url = old_url
        app._after_fork()
        _wait_for_sessions_to_end(postgres)
        for container in docker_client.containers.list(all=True, filters={"ancestor": image}):
            container.remove(force=True)
        docker_client.images.remove(image, noprune=True)
