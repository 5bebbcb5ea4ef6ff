"""Shared fixtures, and the rule for tests that need real services.

A test that needs Docker, Postgres, Redis, bubblewrap or Chromium asks for the fixture
of that service. Where the service is missing the test is skipped with a reason naming
it; with REQUIRE_SERVICES=1 (CI) the same absence fails the test instead.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "var" / "test-artifacts"


def require(condition: bool, what: str) -> None:
    """Skip (or, under REQUIRE_SERVICES=1, fail) when a needed service is missing."""
    if condition:
        return
    message = f"needs {what}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} (REQUIRE_SERVICES=1 turns this skip into a failure)")
    pytest.skip(message)


def _docker_client():
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        return client
    except Exception:
        return None


@pytest.fixture(scope="session")
def docker_client():
    client = _docker_client()
    require(client is not None, "a running Docker engine (start dockerd)")
    return client


@pytest.fixture(scope="session")
def sandbox_image(docker_client) -> str:
    from sandbox.image import image_tag

    tag = image_tag()
    try:
        docker_client.images.get(tag)
        present = True
    except Exception:
        present = False
    require(present, f"the sandbox image {tag} (run: make sandbox-image)")
    return tag


@pytest.fixture(scope="session")
def bwrap_path() -> str:
    path = shutil.which("bwrap")
    require(path is not None, "bubblewrap (apt-get install bubblewrap)")
    return path


def _redis_url() -> str | None:
    url = os.environ.get("CELERY_BROKER_URL", "")
    return url if url.startswith("redis://") else None


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = _redis_url()
    require(url is not None, "a Redis broker (set CELERY_BROKER_URL=redis://...)")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        ok = True
    except Exception:
        ok = False
    require(ok, f"the Redis broker at {url} to answer")
    return url


@pytest.fixture
def postgres(django_db_blocker):
    from django.db import connection

    require(
        connection.vendor == "postgresql",
        "Postgres (set DATABASE_URL=postgres://...; this run uses " + connection.vendor + ")",
    )
    return connection


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    require(path is not None, "Debian's chromium on PATH (apt-get install chromium)")
    return path


# As root, and on a machine whose network reaches only package registries: no Chromium
# sandbox, and no background connections that would be refused many at a time.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser(chromium_path, monkeypatch):
    """Debian's Chromium driven by Playwright (never a browser Playwright downloads)."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls a test makes
    # between page steps are ordinary blocking calls, not async code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters live in the cache: each test starts with none; nor does it
    inherit the plan structure a test before it kept (its rows may have other ids now)."""
    from django.core.cache import cache

    from learning.selectors.plan import review_days_forget

    cache.clear()
    review_days_forget()
    yield
    cache.clear()


def wait_in_page(page, expression: str, arg=None, *, timeout: float = 30_000) -> None:
    """Poll `expression` (a JS expression or function) in the page until it is truthy.

    Playwright's wait_for_function polls by eval() inside the page, which the
    Content-Security-Policy (no 'unsafe-eval') refuses; page.evaluate goes through the
    DevTools protocol, which the policy does not govern.
    """
    import time

    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression, arg):
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout} ms: {expression}")
        time.sleep(0.1)


def logged_in_context(browser, live_server, user, **options):
    """A Chromium context already signed in as `user` (the test client's session cookie),
    so browser tests start on the page they test, not on the log-in form."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    context = browser.new_context(**options)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    return context
