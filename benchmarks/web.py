"""The learner pages under a bounded load: gunicorn against Postgres, loopback only.

One run builds its own data in a new Postgres database (the real quiz bank and N
learners ten days into the plan, each with reviews, due cards, skill sittings,
submissions and mocks: tests/learning/realistic.py), starts gunicorn (-w 3 by default)
on 127.0.0.1 against a fresh copy of it, and measures two things over the learner page
mix (dashboard, /due/, an answer POST that shows "N left", plan, practice, a practice
part, skills history, exercises list and page, mock list):

- open loop: N learners, each sending one request per think time (1 s) on a fixed
  schedule for --duration seconds; a slow answer does not slow the arrivals, and
  latency counts from the scheduled time, so queueing shows in the percentiles;
- closed loop: --closed clients sending back to back for --closed-duration seconds:
  the throughput the server tops out at.

With --baseline PATH the same load also runs against the code in PATH (a second git
worktree, e.g. of main) on its own fresh copy of the same data, so both figures come
from one run on one machine; each phase is cut into --rounds windows in which the two
servers take turns, so that the machine's other load falls on both alike. Every database, server and process it made is removed at
the end. Figures depend on the machine and on whatever else runs on it: the load
average is printed with them, and so is the CPU each request cost the server (gunicorn),
Postgres and this load generator, which shares the machine's cores with them.

usage: python benchmarks/web.py [--learners 50] [--think 1.0] [--duration 30]
           [--closed 6] [--closed-duration 20] [--workers 3] [--rounds 3]
           [--baseline PATH] [--json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"  # loopback only: nothing leaves the machine
# The page mix one learner walks through, over and over (the answer posts the card the
# last /due/ showed; without one it is a /due/ again).
CYCLE = [
    "dashboard",
    "due",
    "answer",
    "plan",
    "practice",
    "practice-part",
    "due",
    "answer",
    "skills",
    "exercises",
    "exercise",
    "mock",
]
PAGES = sorted(set(CYCLE))


# --- data ------------------------------------------------------------------------------


def _admin_connect(admin_url: str):
    import psycopg

    return psycopg.connect(admin_url, autocommit=True)


def _db_url(admin_url: str, name: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path="/" + name))


def build_data(*, admin_url: str, name: str, learners: int, log) -> list[dict]:
    """Create database `name`, migrate it, load the bank and the learners; returns one
    dict per learner (session key, a part, an exercise)."""
    with _admin_connect(admin_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = _db_url(admin_url, name)
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.db import connections

    from quizbank.models import Part
    from tests.learning.realistic import learner_in_plan

    assert settings.DATABASES["default"]["NAME"] == name
    call_command("migrate", verbosity=0)
    started = time.monotonic()
    people = []
    parts: list[str] = []
    for n in range(learners):
        world = learner_in_plan(f"bench-{n}")
        parts = parts or list(Part.objects.filter(retired=False).values_list("slug", flat=True))
        session = SessionStore()
        session[SESSION_KEY] = str(world.user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = world.user.get_session_auth_hash()
        session.create()
        people.append(
            {
                "session": session.session_key,
                "part": parts[n % len(parts)],
                "exercise": world.exercises[n % len(world.exercises)],
            }
        )
        if (n + 1) % 10 == 0:
            log(f"  {n + 1} learners built ({time.monotonic() - started:.0f} s)")
    connections.close_all()
    return people


# --- the server --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    code: Path
    database_url: str
    workers: int
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen | None = None

    def start(self, env: dict[str, str]) -> None:
        env = env | {"PYTHONPATH": str(self.code), "DATABASE_URL": self.database_url}
        # DEBUG off serves static names from the manifest, as in production (make run).
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
            cwd=self.code,
            env=env,
            check=True,
        )
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "-b",
                f"{HOST}:{self.port}",
                "-w",
                str(self.workers),
                "--log-level",
                "warning",
            ],  # fmt: skip
            cwd=self.code,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
                conn.request("GET", "/accounts/login/")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError("gunicorn did not answer within 60 s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


# --- the load ----------------------------------------------------------------------------

ITEM_FORM = re.compile(r'action="/items/(\d+)/answer/"')
VERSION = re.compile(r'name="version" value="(\d+)"')
SOURCE = re.compile(r'name="source" value="(\w+)"')


class Learner:
    """One simulated learner: its cookies, where it is in the cycle, the last card."""

    def __init__(self, person: dict, port: int, start_at: int = 0):
        self.person = person
        self.port = port
        self.step = start_at
        self.csrf = secrets.token_hex(16)  # 32 characters: a CSRF secret of our own
        self.card: dict | None = None

    def _request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        headers = {
            "Cookie": f"sessionid={self.person['session']}; csrftoken={self.csrf}",
            "Host": f"{HOST}:{self.port}",
        }
        data = None
        if body is not None:
            data = urlencode(body | {"csrfmiddlewaretoken": self.csrf})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["HX-Request"] = "true"  # as htmx posts it: the card swaps in place
        conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def next(self) -> tuple[str, int]:
        """Do the next page of the cycle; (page name, status)."""
        page = CYCLE[self.step % len(CYCLE)]
        self.step += 1
        if page == "answer" and self.card is None:
            page = "due"
        if page == "answer":
            card, self.card = self.card, None
            body = {
                "source": card["source"],
                "version": card["version"],
                "mode": "self",
                "self_rating": "3",
                "shown_at": str(int(time.time() * 1000) - 4000),
            }
            status, _ = self._request("POST", f"/items/{card['item']}/answer/", body)
            return page, status
        path = {
            "dashboard": "/",
            "due": "/due/",
            "plan": "/plan/",
            "practice": "/practice/",
            "practice-part": f"/practice/{self.person['part']}/",
            "skills": "/skills/history/",
            "exercises": "/exercises/",
            "exercise": f"/exercises/{self.person['exercise']}/",
            "mock": "/mock/",
        }[page]
        status, content = self._request("GET", path)
        if page == "due":
            text = content.decode("utf-8", "replace")
            item, version, source = (p.search(text) for p in (ITEM_FORM, VERSION, SOURCE))
            if item and version and source:
                self.card = {
                    "item": item.group(1),
                    "version": version.group(1),
                    "source": source.group(1),
                }
        return page, status


@dataclass
class Samples:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {p: [] for p in PAGES})
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PAGES, 0))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, page: str, seconds: float, status: int) -> None:
        with self.lock:
            self.latencies[page].append(seconds)
            if status not in (200, 302):
                self.errors[page] += 1


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def summary(samples: Samples, seconds: float, cpu: dict[str, float] | None = None) -> dict:
    pages = {}
    total = 0
    for page in PAGES:
        values = samples.latencies[page]
        total += len(values)
        if not values:
            continue
        pages[page] = {
            "n": len(values),
            "p50_ms": round(_percentile(values, 0.50) * 1000, 1),
            "p95_ms": round(_percentile(values, 0.95) * 1000, 1),
            "p99_ms": round(_percentile(values, 0.99) * 1000, 1),
            "errors": samples.errors[page],
        }
    every = [v for page in PAGES for v in samples.latencies[page]]
    return {
        "requests_per_s": round(total / seconds, 1),
        "requests": total,
        "errors": sum(samples.errors.values()),
        "p95_ms_all": round(_percentile(every, 0.95) * 1000, 1) if every else None,
        # CPU milliseconds per request served, by who spent them (cpu_sample)
        "cpu_ms_per_request": {
            part: round(spent * 1000 / total, 1) for part, spent in (cpu or {}).items()
        }
        if total
        else {},
        "pages": pages,
    }


def open_loop(
    people, port: int, samples: Samples, *, learners: int, think: float, duration: float
) -> float:
    """Each learner sends one request per `think` seconds on a fixed schedule; returns
    the seconds it took (its samples go to `samples`)."""
    start = time.monotonic() + 0.5
    end = start + duration

    def run(n: int) -> None:
        learner = Learner(people[n % len(people)], port, start_at=n)
        due = start + think * n / learners  # staggered, so arrivals spread over a second
        while due < end:
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            page, status = learner.next()
            samples.add(page, time.monotonic() - due, status)
            due += think

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(learners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + 120)
    return time.monotonic() - start


def closed_loop(people, port: int, samples: Samples, *, clients: int, duration: float) -> float:
    """`clients` learners sending back to back: the server's throughput."""
    start = time.monotonic()
    end = start + duration

    def run(n: int) -> None:
        learner = Learner(people[n % len(people)], port, start_at=n * 5)
        while time.monotonic() < end:
            sent = time.monotonic()
            page, status = learner.next()
            samples.add(page, time.monotonic() - sent, status)

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + 120)
    return time.monotonic() - start


# --- where the CPU goes ------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _process_cpu(match) -> float:
    """CPU seconds (user + system) of the live processes for which match(comm, pgrp)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
        except OSError:
            continue  # ended meanwhile
        comm = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        if match(comm, int(fields[2])):
            total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


def cpu_sample(server: Server) -> dict[str, float]:
    """CPU seconds so far of the server (its gunicorn process group), of Postgres (every
    postgres process: the server's connections live through a run) and of this load
    generator; the difference of two samples is what a window cost."""
    pgid = server.process.pid if server.process else -1
    me = os.times()
    return {
        "server": _process_cpu(lambda comm, pgrp: pgrp == pgid),
        "postgres": _process_cpu(lambda comm, pgrp: comm.startswith("postgres")),
        "load_generator": me.user + me.system,
    }


# --- a run -------------------------------------------------------------------------------


def measure(trees, *, args, admin_url: str, template: str, people, env, log) -> dict:
    """Every tree's server on its own fresh copy of the data, all started and warmed up
    first; then the open loop and the closed loop each in --rounds windows that take
    the trees in turn (the order alternating), so that a change in the machine's other
    load falls on every tree alike. Returns label -> figures."""
    servers: dict[str, Server] = {}
    databases = []
    try:
        for label, code in trees:
            name = f"{template}_{label}"
            with _admin_connect(admin_url) as conn:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            databases.append(name)
            server = Server(code=code, database_url=_db_url(admin_url, name), workers=args.workers)
            servers[label] = server
            server.start(env)
            log(f"  {label}: gunicorn -w {args.workers} from {code} on {HOST}:{server.port}")
            closed_loop(people, server.port, Samples(), clients=args.workers, duration=args.warmup)
        samples = {label: {"open": Samples(), "closed": Samples()} for label in servers}
        seconds = {label: {"open": 0.0, "closed": 0.0} for label in servers}
        cpu = {
            label: {phase: dict.fromkeys(("server", "postgres", "load_generator"), 0.0)
                    for phase in ("open", "closed")}
            for label in servers
        }  # fmt: skip
        loads = {label: [] for label in servers}
        for phase in ("open", "closed"):
            for turn in range(args.rounds):
                order = list(servers) if turn % 2 == 0 else list(reversed(servers))
                for label in order:
                    port = servers[label].port
                    loads[label].append(round(os.getloadavg()[0], 2))
                    log(f"  {phase} loop, round {turn + 1}/{args.rounds}: {label}")
                    before = cpu_sample(servers[label])
                    if phase == "open":
                        took = open_loop(
                            people, port, samples[label]["open"], learners=args.learners,
                            think=args.think, duration=args.duration / args.rounds,
                        )  # fmt: skip
                    else:
                        took = closed_loop(
                            people, port, samples[label]["closed"], clients=args.closed,
                            duration=args.closed_duration / args.rounds,
                        )  # fmt: skip
                    seconds[label][phase] += took
                    after = cpu_sample(servers[label])
                    for part in after:
                        cpu[label][phase][part] += after[part] - before[part]
        return {
            label: {
                "code": str(server.code),
                "loadavg_1min_per_window": loads[label],
                "open": summary(samples[label]["open"], seconds[label]["open"], cpu[label]["open"]),
                "closed": summary(
                    samples[label]["closed"], seconds[label]["closed"], cpu[label]["closed"]
                ),
            }
            for label, server in servers.items()
        }
    finally:
        for server in servers.values():
            server.stop()
        with _admin_connect(admin_url) as conn:
            for name in databases:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def print_run(label: str, run: dict) -> None:
    print(f"\n== {label}: {run['code']}")
    print(f"   1-minute load average at each window: {run['loadavg_1min_per_window']}")
    for phase in ("open", "closed"):
        result = run[phase]
        print(
            f"   {phase} loop: {result['requests_per_s']} requests/s, {result['requests']} "
            f"requests, {result['errors']} errors, p95 over the mix {result['p95_ms_all']} ms"
        )
        spent = result["cpu_ms_per_request"]
        if spent:
            print("   CPU ms per request: " + ", ".join(f"{k} {v}" for k, v in spent.items()))
        print(f"   {'page':<14} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6}")
        for page, row in result["pages"].items():
            print(
                f"   {page:<14} {row['n']:>5} {row['p50_ms']:>8} {row['p95_ms']:>8} "
                f"{row['p99_ms']:>8} {row['errors']:>6}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=50)
    parser.add_argument("--think", type=float, default=1.0, help="seconds between requests")
    parser.add_argument("--duration", type=float, default=30.0, help="open loop, seconds")
    parser.add_argument("--closed", type=int, default=6, help="closed-loop clients")
    parser.add_argument("--closed-duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument(
        "--rounds", type=int, default=3, help="windows per phase, the trees taking turns"
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--baseline", type=Path, help="also measure the code in this tree")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="a Postgres URL allowed to create and drop databases",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    template = f"webbench_{os.getpid()}"
    env = dict(os.environ) | {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_HTTPS": "0",
        # One key for the data built here and every server: the sessions must verify.
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": HOST,
    }
    os.environ.update(env)
    result: dict = {
        "config": {
            "learners": args.learners,
            "think_s": args.think,
            "open_duration_s": args.duration,
            "closed_clients": args.closed,
            "closed_duration_s": args.closed_duration,
            "gunicorn_workers": args.workers,
            "rounds": args.rounds,
            "cpus": os.cpu_count(),
        },
        "runs": {},
    }
    try:
        log(f"building {args.learners} learners in database {template}")
        people = build_data(
            admin_url=args.admin_url, name=template, learners=args.learners, log=log
        )
        trees = ([("baseline", args.baseline.resolve())] if args.baseline else []) + [
            ("current", ROOT)
        ]
        log("measuring " + ", ".join(label for label, _ in trees))
        result["runs"] = measure(
            trees,
            args=args,
            admin_url=args.admin_url,
            template=template,
            people=people,
            env=env,
            log=log,
        )
    finally:
        with _admin_connect(args.admin_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"config: {result['config']}")
        for label, run in result["runs"].items():
            print_run(label, run)
        runs = result["runs"]
        if "baseline" in runs:
            before = runs["baseline"]["closed"]["requests_per_s"]
            after = runs["current"]["closed"]["requests_per_s"]
            print(f"\nclosed-loop throughput: {after} / {before} = {after / before:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
