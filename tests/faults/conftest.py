"""The fault suite's own Postgres cluster, so that stopping it disturbs nobody else.

With RUN_FAULTS=1 the session starts a throwaway cluster (initdb into a temporary folder
with the installed Postgres binaries, on a free port of 127.0.0.1) and points Django's
default database at it before pytest-django creates the test database there; the
suite's Celery workers are given the same address. The test stops and starts it as a
fault. Without RUN_FAULTS=1 nothing starts (the suite is skipped).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port, require


def _postgres_bin() -> Path | None:
    """The folder of initdb/pg_ctl: on PATH, else the newest under /usr/lib/postgresql."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return candidates[-1].parent if candidates else None


class OwnPostgres:
    """A Postgres cluster of this test session: start(), stop(), and its port."""

    def __init__(self, *, bin_dir: Path, root: Path, port: int) -> None:
        self.bin_dir, self.root, self.port = bin_dir, root, port
        self.data = root / "data"
        self.log = root / "postgres.log"

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:  # Postgres refuses to run as root: its own account runs it
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{args[0]} failed:\n{done.stdout}\n{done.stderr}"

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        # Throwaway data: no fsync, trust on the loopback only.
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--locale", "C", "--no-sync")  # fmt: skip

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=100")  # fmt: skip
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "-t", "60", "start")  # fmt: skip

    def stop(self) -> None:
        """A fast shutdown: every session is ended, as when a database host goes away."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def is_running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@pytest.fixture(scope="session")
def own_postgres() -> Iterator[OwnPostgres | None]:
    if os.environ.get("RUN_FAULTS") != "1":
        yield None
        return
    bin_dir = _postgres_bin()
    require(bin_dir is not None, "the Postgres server binaries (initdb, pg_ctl)")
    assert bin_dir is not None
    root = Path(tempfile.mkdtemp(prefix="faults-postgres-"))
    cluster = OwnPostgres(bin_dir=bin_dir, root=root, port=free_port())
    began = time.monotonic()
    try:
        cluster.init()
        cluster.start()
        print(f"\nthe suite's own Postgres on port {cluster.port}, "
              f"ready in {time.monotonic() - began:.1f} s")  # fmt: skip
        yield cluster
    finally:
        if cluster.is_running():
            try:
                cluster.stop()
            except AssertionError:
                pass
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, own_postgres: OwnPostgres | None
) -> None:
    """Before the test database is created: Django's default database is the suite's
    own cluster (same database name, so the same test database name)."""
    if own_postgres is None:
        return
    from django.conf import settings
    from django.db import connections

    default = settings.DATABASES["default"]
    require(
        default["ENGINE"] == "django.db.backends.postgresql",
        "Postgres (set DATABASE_URL=postgres://...): the suite runs its own cluster of it",
    )
    default.update(HOST="127.0.0.1", PORT=str(own_postgres.port), USER="postgres", PASSWORD="")
    connections["default"].close()
