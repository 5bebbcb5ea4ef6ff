"""Fixtures for the grading pipeline tests.

`broker` points the Celery app at kombu's in-memory transport (a real transport, shared
by every connection in this process), so a test can read exactly which messages a
service sent, to which queue, with which countdown and time limits.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXERCISES = ROOT / "grading" / "exercises"

SE_BLOCK_SOLUTION = """\
import torch
import torch.nn as nn


class SEBlock(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        self.fc1 = nn.Linear(channels, channels // reduction)
        self.fc2 = nn.Linear(channels // reduction, channels)

    def forward(self, x):
        gate = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean(dim=(2, 3))))))
        return x * gate[:, :, None, None]
"""

# Forgets the sigmoid: shapes and parameter counts pass, outputs and gradients do not.
SE_BLOCK_WITHOUT_SIGMOID = SE_BLOCK_SOLUTION.replace("torch.sigmoid(", "(")

SE_BLOCK_SYNTAX_ERROR = SE_BLOCK_SOLUTION.replace("def forward(self, x):", "def forward(self, x)")


@dataclass(frozen=True)
class SentTask:
    queue: str
    task: str
    args: list
    eta: datetime | None
    soft_time_limit: float | None
    time_limit: float | None


class Inbox:
    def __init__(self, channel_cls) -> None:
        self._queues = channel_cls.queues

    def take(self, queue: str) -> list[SentTask]:
        """Remove and return every message waiting in `queue`."""
        sent = []
        pending = self._queues.get(queue)
        while pending is not None and not pending.empty():
            raw = pending.get_nowait()
            raw = json.loads(raw) if isinstance(raw, str | bytes) else raw
            headers = raw["headers"]
            body = raw["body"]
            if raw["properties"].get("body_encoding") == "base64":
                body = base64.b64decode(body)
            args, _kwargs, _embed = json.loads(body)
            soft, hard = (headers.get("timelimit") or [None, None])[::-1]
            eta = headers.get("eta")
            sent.append(
                SentTask(
                    queue=queue,
                    task=headers["task"],
                    args=args,
                    eta=datetime.fromisoformat(eta) if eta else None,
                    soft_time_limit=soft,
                    time_limit=hard,
                )
            )
        return sent

    def all(self) -> list[SentTask]:
        return [task for queue in list(self._queues) for task in self.take(queue)]


@pytest.fixture
def broker(monkeypatch):
    from kombu.transport.memory import Channel

    from config.celery_app import app

    # Celery reads CELERY_BROKER_URL from the environment before its own configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", "memory://")
    monkeypatch.delenv("CELERY_BROKER_WRITE_URL", raising=False)
    old_url = app.conf.broker_url
    app.conf.broker_url = "memory://"
    app._after_fork()  # drop producer pools bound to the configured broker
    Channel.queues.clear()
    try:
        yield Inbox(Channel)
    finally:
        Channel.queues.clear()
        app.conf.broker_url = old_url
        app._after_fork()


@pytest.fixture
def learner(django_user_model):
    return django_user_model.objects.create_user(username="ada", password="pw-for-tests-1")


@pytest.fixture
def other_learner(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="pw-for-tests-2")


@pytest.fixture
def no_sandbox(settings):
    """A host with no sandbox backend: every grading attempt is our fault, for real."""
    settings.SANDBOX_BACKEND = "none"
    return settings


_REFERENCE_IMPORT = re.compile(r"^from grading\.exercises\.(\w+)\.reference import .+$", re.M)


def reference_solution(slug: str) -> str:
    """The exercise's reference as a self-contained file a candidate could have written.

    A reference may import another (the builder uses the blocks); a submission is one
    file, so such imports are replaced by the imported module's text.
    """
    package = slug.replace("-", "_")
    source = (EXERCISES / package / "reference.py").read_text()
    return _REFERENCE_IMPORT.sub(
        lambda m: (EXERCISES / m.group(1) / "reference.py").read_text(), source
    )


def all_slugs() -> list[str]:
    return sorted(path.parent.name.replace("_", "-") for path in EXERCISES.glob("*/reference.py"))


WORKER_APP = "e2e-celery-worker"  # how the worker's sessions are told apart in Postgres


def database_url(settings_dict: dict) -> str:
    user = quote(settings_dict.get("USER") or "")
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{quote(password)}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}?application_name={WORKER_APP}"


@contextlib.contextmanager
def celery_worker(postgres, redis_url: str, sandbox_image: str, log_path, *, queues: str,
                  env: dict[str, str] | None = None):  # fmt: skip
    """A `celery worker` process on `queues` against the test database, stopped after.

    It runs in its own process group so that its pool children are waited for too: the
    test database can only be dropped once none of them holds a connection.
    """
    import redis

    redis.Redis.from_url(redis_url).delete(*queues.split(","))  # stale messages
    full_env = {
        **os.environ,
        "DATABASE_URL": database_url(postgres.settings_dict),
        "CELERY_BROKER_URL": redis_url,
        "SANDBOX_BACKEND": "docker",
        "SANDBOX_IMAGE": sandbox_image,
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queues,
         "--concurrency", "1", "--loglevel", "INFO", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while "ready." not in log_path.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Celery worker did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield log_path
    finally:
        _stop_group(proc)
        log.close()
        _wait_for_sessions_to_end(postgres)


@pytest.fixture
def worker(postgres, redis_url, sandbox_image, artifacts_dir):
    """A `celery worker` process on both grading queues, stopped after the test."""
    log_path = artifacts_dir / "e2e-celery-worker.log"
    with celery_worker(postgres, redis_url, sandbox_image, log_path,
                       queues="grade.cpu,grade.gpu") as log:  # fmt: skip
        yield log


def _wait_for_sessions_to_end(connection, timeout_s: float = 15.0) -> None:
    """Postgres ends a dead client's session a moment later; the test database can only be
    dropped after that."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [WORKER_APP]
            )
            remaining = cursor.fetchone()[0]
        if remaining == 0:
            break
        time.sleep(0.2)
    if not connection.in_atomic_block:
        connection.close()  # nor may this one hold it open


def _stop_group(proc: subprocess.Popen) -> None:
    """Warm shutdown (the running task finishes), then wait for every process of the group."""
    group = proc.pid  # start_new_session: the worker leads its own group
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(group, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.killpg(group, signal.SIGKILL)
