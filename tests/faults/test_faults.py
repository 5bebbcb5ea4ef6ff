"""The fault suite: submissions over the API while faults are injected into the full stack.

Real Postgres (a cluster of the suite's own, tests/faults/conftest.py), a Redis of its
own (restarting either disturbs nobody else), two `celery worker` graders with the
default warm sandbox pool, the sweeper with beat on its own queue, and the Docker
sandbox. Faults, each aimed at one submission known to be mid-grade (found through the
workers' own list of active tasks and the container serving it):

1. a sandbox container killed from outside: our failure, retried, the right verdict,
   final within 60 s;
2. a pool child SIGKILLed: that submission sent again within 30 s of the kill, claimed
   again within 45 s and final within 60 s (a free worker is needed: 2 busy cores);
3. Postgres stopped for 20 s: the gradings it broke and the messages consumed meanwhile
   recovered within 30 s of its return;
4. Redis down: a POST answers 201 and a retry with its Idempotency-Key is the same row;
   restarted empty (no persistence), its backlog re-sent within 30 s;
5. a whole worker SIGKILLed: the same bounds for its submission;
6. a worker stopped with SIGTERM (a deploy): it finishes that grading and says so.

Then: every submission final, none lost, none graded twice (verdict rows and container
starts counted), every verdict right, every container accounted for (the warm pool of
live workers only, none of a dead one's; none once the workers stop). Prints a table.

Run by `.ci/run` (RUN_FAULTS=1); skipped otherwise, as it takes minutes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import docker.errors
import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts import services as account_services
from grading import dispatch
from grading.models import Submission, TestResult
from sandbox.bootstrap import PRELOAD
from sandbox.docker_reap import OWNER_LABEL, _owner_alive
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
HOST = socket.gethostname()
FINAL = {"passed", "failed", "error", "sandbox_error"}
# Lost work is found and sent again within 30 s of the fault (the bound; by
# design within HEARTBEAT_STALE_S plus a sweep, about 15 s). Claiming it needs a free
# worker: on 2 cores shared with other work, the one grading ahead of it can take 15 s
# more, and its own grading as long again.
RESENT_BOUND_S = 30.0
RECLAIM_BOUND_S = 45.0
FINAL_BOUND_S = 60.0
RECOVERY_BOUND_S = 30.0
POSTGRES_DOWN_S = 20.0
POOL_SIZE = 1  # the default: one warm container waiting per grading process
# Six batches, one before each fault, so that each finds gradings to hit however fast
# the ones before went: 6 x (6 sandboxed + 11 refused) + 1 posted while Redis is down.
BATCHES = 6
SANDBOXED_PER_BATCH = 6  # graded in a container: half right, half wrong
REFUSED_PER_BATCH = 11  # syntax errors: wrong, decided without a container
CORRECT = reference_solution("param-count")
WRONG = CORRECT.replace("return 2 * 9 * C * C", "return 2 * 9 * C * C + 1")
BROKEN = "def count_params_basic(C:\n    return 0\n"
WARM_MARK = json.dumps(list(PRELOAD))  # an argument only a warm waiter's command has


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

    def graders(self) -> list[str]:
        return [n for n, p in self.workers.items() if n != "sweeper" and p.poll() is None]

    def stop_all(self) -> None:
        for proc in self.workers.values():
            try:
                _stop_group(proc)
            except ProcessLookupError:
                pass
        if self.redis is not None and self.redis.poll() is None:
            self.stop_redis()


class StartCounter(threading.Thread):
    """Container starts of one image, by owner (the grading process that started it), from
    the engine's live event stream (its stored log keeps only the last few hundred
    events of everyone using the engine)."""

    def __init__(self, client, image: str) -> None:
        super().__init__(daemon=True)
        self.owners: Counter[str] = Counter()
        self.image = image
        self._events = client.events(
            filters={"type": "container", "event": "start", "image": image}, decode=True
        )

    def run(self) -> None:
        try:
            for event in self._events:
                attributes = event.get("Actor", {}).get("Attributes", {})
                if attributes.get("image") == self.image:
                    self.owners[attributes.get(OWNER_LABEL, "?")] += 1
        except Exception:
            pass  # closed at the end

    def close(self) -> Counter[str]:
        time.sleep(1)  # the last start's event is on its way
        self._events.close()
        return self.owners


def _containers(client, image: str, **filters: str) -> list[dict]:
    """This suite's containers: created from its own tag. (The engine's `ancestor` filter
    matches the image's id, which other users' containers of the same image share.)"""
    listed = client.api.containers(all=True, filters={"ancestor": image, **filters})
    return [c for c in listed if c.get("Image") == image]


def _owner_pid(owner: str) -> int:
    return int(owner.split("/")[1])


def _serving(client, image: str) -> dict[int, str]:
    """Grading process id -> the container running its job now. A warm waiter is serving
    once it has forked its job (three processes: `timeout`, the waiter, the job); a cold
    container serves from its start."""
    found: dict[int, str] = {}
    for listed in _containers(client, image, status="running"):
        try:
            command = client.api.inspect_container(listed["Id"])["Config"]["Cmd"]
            if WARM_MARK in command:
                # None once its processes are gone (it is ending).
                processes = client.api.top(listed["Id"]).get("Processes") or []
                if len(processes) < 3:
                    continue  # waiting for a job, or ending
            found[_owner_pid(listed["Labels"][OWNER_LABEL])] = listed["Id"]
        except (docker.errors.NotFound, docker.errors.APIError, KeyError, ValueError):
            continue  # it ended meanwhile
    return found


def _grading_in_progress(app, client, image: str, *, workers: list[str], sandboxed: set[int],
                         timeout_s: float = 90.0) -> tuple[str, int, int, str, datetime]:  # fmt: skip
    """(worker, submission, grading process, container, claim) of one sandboxed submission
    mid-grade, as its worker lists it among its active tasks with its container running."""
    deadline = time.monotonic() + timeout_s
    destination = [f"{name}@{HOST}" for name in workers]
    while time.monotonic() < deadline:
        active = app.control.inspect(destination=destination, timeout=1.0).active() or {}
        serving = _serving(client, image)
        for hostname, tasks in active.items():
            for task in tasks:
                found = re.match(r"submission-(\d+)-", task.get("id", ""))
                pid = task.get("worker_pid")
                if not found or int(found[1]) not in sandboxed or pid not in serving:
                    continue
                pk = int(found[1])
                status, claimed_at = Submission.objects.values_list(
                    "status", "started_at").get(pk=pk)  # fmt: skip
                if status == "running":
                    return hostname.split("@")[0], pk, pid, serving[pid], claimed_at
        time.sleep(0.2)
    raise AssertionError("no sandboxed grading in progress")


def _wait_row(pk: int, claimed_at: datetime, since: float,
              timeout_s: float = 120.0) -> tuple[float, float, float]:  # fmt: skip
    """Seconds from `since` until this row was taken from its lost claim (queued again,
    claimed again or final), until claimed again (or final), and until final."""
    freed = reclaimed = float("inf")
    while time.monotonic() - since < timeout_s:
        status, started_at = _row_state(pk)
        now = time.monotonic() - since
        if freed == float("inf") and (status != "running" or started_at != claimed_at):
            freed = now
        if reclaimed == float("inf") and (
            status in FINAL or (started_at is not None and started_at != claimed_at)
        ):
            reclaimed = now
        if status in FINAL:
            return freed, reclaimed, now
        time.sleep(0.2)
    return freed, reclaimed, float("inf")


def _row_state(pk: int) -> tuple[str, datetime | None]:
    return Submission.objects.values_list("status", "started_at").get(pk=pk)


def _queued_without_message() -> set[int] | None:
    held = dispatch.submissions_in_broker()
    if held is None:
        return None
    return set(Submission.objects.filter(status="queued").values_list("pk", flat=True)) - held


def _wait_messages_back(timeout_s: float = 60.0) -> float:
    """Seconds until no queued row lacks its message in the broker."""
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        if _queued_without_message() == set():
            return time.monotonic() - began
        time.sleep(0.2)
    return float("inf")


def _wait_postgres_recovered(broken: dict[int, datetime], up_wall: datetime,
                             timeout_s: float = 90.0) -> tuple[float, float]:  # fmt: skip
    """After Postgres is back: seconds until a verdict is stored again, and until every
    grading the outage broke is final or claimed again, no running row's claim is stale,
    and no queued row lacks its message (those consumed while it was down)."""
    began = time.monotonic()
    first_verdict = float("inf")
    while time.monotonic() - began < timeout_s:
        now = time.monotonic() - began
        if (
            first_verdict == float("inf")
            and Submission.objects.filter(finished_at__gte=up_wall).exists()
        ):
            first_verdict = now
        rows = dict(Submission.objects.filter(pk__in=broken).values_list("pk", "started_at"))
        states = dict(Submission.objects.filter(pk__in=broken).values_list("pk", "status"))
        stale = Submission.objects.filter(status="running", deadline__lt=timezone.now())
        if (
            all(states[pk] in FINAL or rows[pk] not in (None, broken[pk]) for pk in broken)
            and not stale.exists()
            and _queued_without_message() == set()
            and first_verdict < float("inf")
        ):
            return first_verdict, now
        time.sleep(0.2)
    return first_verdict, float("inf")


def test_faults_cost_seconds_and_never_a_wrong_verdict(
    postgres, own_postgres, redis_url, sandbox_image, docker_client, django_user_model,
    tmp_path, monkeypatch, settings,
):  # fmt: skip
    from config.celery_app import app

    assert own_postgres is not None and postgres.settings_dict["PORT"] == str(own_postgres.port), (
        "the suite's own Postgres is not Django's database: run it alone (pytest tests/faults)"
    )
    settings.GRADING_MAX_ACTIVE = 1000  # one learner keeps the whole load in flight
    # The suite's own tag of the sandbox image: its containers are told apart from those
    # of anyone else using the same engine.
    image = f"resnet-sandbox-faults:{os.getpid()}"
    docker_client.images.get(sandbox_image).tag(image)
    redis_port = free_port()
    broker = f"redis://127.0.0.1:{redis_port}/0"
    env = {**os.environ, "DATABASE_URL": database_url(postgres.settings_dict),
           "CELERY_BROKER_URL": broker, "SANDBOX_BACKEND": "docker",
           "SANDBOX_IMAGE": image, "PYTHONUNBUFFERED": "1",
           "SANDBOX_POOL_SIZE": str(POOL_SIZE)}  # fmt: skip
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
        sandboxed: set[int] = set()
        batch = [CORRECT, WRONG] * (SANDBOXED_PER_BATCH // 2) + [BROKEN] * REFUSED_PER_BATCH
        batch = [batch[i] for i in sorted(range(len(batch)), key=lambda i: (i * 7) % len(batch))]

        def post_batch() -> None:
            for code in batch:
                response = post(code)
                assert response.status_code == 201, response.content
                pk = response.json()["id"]
                expected[pk] = {CORRECT: "passed", WRONG: "failed", BROKEN: "error"}[code]
                if code != BROKEN:
                    sandboxed.add(pk)

        def in_progress(workers: list[str] | None = None):
            return _grading_in_progress(app, docker_client, image, sandboxed=sandboxed,
                                        workers=workers or stack.graders())  # fmt: skip

        # 1. A sandbox container killed from outside: our failure, retried.
        post_batch()
        for _try in range(3):
            _name, hit, _pid, container, claim = in_progress()
            time.sleep(0.5)
            killed_at = time.monotonic()
            subprocess.run(["docker", "kill", container], capture_output=True, check=False)
            freed, _reclaimed, final = _wait_row(hit, claim, killed_at)
            attempts = Submission.objects.get(pk=hit).attempts
            if attempts:
                break
            # Final at its first attempt: the job ended just before the kill, or the kill
            # was taken for the candidate's error (then its verdict is wrong, below).
        table.append(("docker kill of a sandbox container", f"{freed:.1f} s",
                      f"#{hit}: retried ({attempts}) as our error, final {final:.1f} s after"))  # fmt: skip
        assert attempts >= 1, "a container killed from outside was not retried"
        assert freed <= RESENT_BOUND_S and final <= FINAL_BOUND_S

        # 2. A pool child SIGKILLed mid-grade: its claim lapses, the sweeper re-sends it.
        post_batch()
        for _try in range(3):
            name, hit, pid, _container, claim = in_progress()
            offset = stack.log(name).stat().st_size
            os.kill(pid, signal.SIGKILL)
            killed_at = time.monotonic()
            # Only the grading process holds this claim: still running under it, the row
            # was mid-grade when that process died (else it finished just before: again).
            if _row_state(hit) == ("running", claim):
                break
        else:
            raise AssertionError("three kills each came just after their grading ended")
        deadline = time.monotonic() + 10
        while "WorkerLostError" not in stack.log(name).read_text()[offset:]:
            assert time.monotonic() < deadline, "the worker did not report its child lost"
            time.sleep(0.2)
        freed, reclaimed, final = _wait_row(hit, claim, killed_at)
        table.append(("pool child SIGKILLed mid-grade", f"{freed:.1f} s",
                      f"#{hit}: re-sent {freed:.1f} s, re-claimed {reclaimed:.1f} s, final "
                      f"{final:.1f} s after the kill"))  # fmt: skip
        assert freed <= RESENT_BOUND_S
        assert reclaimed <= RECLAIM_BOUND_S and final <= FINAL_BOUND_S

        # 3. Postgres stopped for 20 s mid-grade: the graders' writes fail meanwhile.
        post_batch()
        in_progress()
        broken = dict(Submission.objects.filter(status="running").values_list("pk", "started_at"))
        own_postgres.stop()
        stopped_at = time.monotonic()
        time.sleep(POSTGRES_DOWN_S)
        own_postgres.start()
        down = time.monotonic() - stopped_at
        connection.close()  # this process's session ended with the server
        first, took = _wait_postgres_recovered(broken, timezone.now())
        table.append((f"Postgres stopped ({down:.0f} s)", f"{took:.1f} s",
                      f"first verdict {first:.1f} s after; {len(broken)} broken grading(s) "
                      "re-claimed, lost messages re-sent"))  # fmt: skip
        assert took <= RECOVERY_BOUND_S

        # 4. The broker down: a POST still answers 201, a retry with its key is the same.
        post_batch()
        stack.stop_redis()
        down = post(CORRECT, idem="while-redis-is-down")
        again = post(CORRECT, idem="while-redis-is-down")
        assert down.status_code == again.status_code == 201, down.content
        assert down.json()["id"] == again.json()["id"]
        expected[down.json()["id"]] = "passed"
        sandboxed.add(down.json()["id"])
        # ... and comes back empty (no persistence): the sweeper re-sends the backlog.
        time.sleep(2)
        stack.start_redis()
        app._after_fork()  # this process's broker connections died with the old server
        took = _wait_messages_back()
        backlog = Submission.objects.filter(status="queued").count()
        table.append(("Redis restarted, no persistence", f"{took:.1f} s",
                      f"{backlog} queued re-sent; POST while down: 201, key replayed"))  # fmt: skip
        assert took <= RECOVERY_BOUND_S

        # 5. A whole worker SIGKILLed mid-grade; a new one starts.
        post_batch()
        name, hit, _pid, _container, claim = in_progress()
        os.killpg(stack.workers[name].pid, signal.SIGKILL)
        killed_at = time.monotonic()
        assert _row_state(hit) == ("running", claim), "the kill came after its grading ended"
        stack.workers[name].wait()
        stack.start_worker("g3")
        freed, reclaimed, final = _wait_row(hit, claim, killed_at)
        table.append((f"worker SIGKILLed mid-grade ({name})", f"{freed:.1f} s",
                      f"#{hit}: re-sent {freed:.1f} s, re-claimed {reclaimed:.1f} s, final "
                      f"{final:.1f} s after the kill"))  # fmt: skip
        assert freed <= RESENT_BOUND_S
        assert reclaimed <= RECLAIM_BOUND_S and final <= FINAL_BOUND_S

        # 6. A worker asked to stop (a deploy's SIGTERM) finishes its grading and says so.
        post_batch()
        name, hit, _pid, _container, _claim = in_progress([n for n in stack.graders() if n != "g3"])
        stack.workers[name].send_signal(signal.SIGTERM)
        stack.workers[name].wait(timeout=120)
        said = re.findall(r"warm shutdown: [^\n]*", stack.log(name).read_text())
        assert said and str(hit) in said[0], stack.log(name).read_text()[-2000:]
        assert Submission.objects.get(pk=hit).status in FINAL, "it left before finishing"
        stack.start_worker("g4")
        table.append((f"worker SIGTERM (graceful, {name})", "-", said[0]))

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

        # Every container accounted for: with the workers alive, only their warm pool
        # waits (a dead process's containers, job or waiter, are reaped); once they stop,
        # none. Within REAP_EVERY_S of the last death, plus a sweep of slack.
        deadline = time.monotonic() + 45
        while True:
            left = _containers(docker_client, image)
            owners = Counter(c["Labels"].get(OWNER_LABEL, "") for c in left)
            serving = _serving(docker_client, image)
            if (
                all(_owner_alive(o) for o in owners)
                and max(owners.values(), default=0) <= POOL_SIZE
                and not serving
            ):
                break
            assert time.monotonic() < deadline, ("containers not accounted for", left)
            time.sleep(1)
        waiting = len(left)
        for name in stack.graders():
            _stop_group(stack.workers[name])
        deadline = time.monotonic() + 20
        # The low-level list: the high-level one inspects each and races their removal.
        while _containers(docker_client, image):
            assert time.monotonic() < deadline, "a stopped worker left its containers behind"
            time.sleep(0.5)

        by_owner = starts.close()
        runs = sum(by_owner.values())
        # Each sandboxed submission needs a container of its own; each run beyond the
        # first was a retry (its attempt counted); each grading process kept at most
        # POOL_SIZE waiting beyond the jobs it took.
        most = sum(1 + rows[pk].attempts for pk in sandboxed) + POOL_SIZE * len(by_owner)
        assert len(sandboxed) <= runs <= most + 2, (runs, len(sandboxed), most)
        total = time.monotonic() - began
        table.append(("all", f"{total:.0f} s", f"{len(rows)} submissions ({len(sandboxed)} "
                      f"sandboxed), {runs} container starts by {len(by_owner)} processes "
                      f"(at most {most}), {retried} retried, 0 lost, 0 wrong, {waiting} warm "
                      "waiting at the end, 0 left"))  # fmt: skip
    finally:
        width = max(len(row[0]) for row in table) if table else 10
        print("\nfault".ljust(width + 1), "recovery", "  what")
        for fault, took, what in table:
            print(fault.ljust(width), took.rjust(8), " ", what)
        stack.stop_all()
        app.conf.broker_url = old_url
        app._after_fork()
        if own_postgres is not None and not own_postgres.is_running():
            own_postgres.start()
        connection.close()
        _wait_for_sessions_to_end(postgres)
        for listed in _containers(docker_client, image):
            try:
                docker_client.api.remove_container(listed["Id"], force=True)
            except docker.errors.NotFound:
                pass
        docker_client.images.remove(image, noprune=True)
