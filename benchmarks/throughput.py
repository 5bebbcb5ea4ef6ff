"""Throughput: submissions graded per minute by N Celery workers (the figure that sizes a
deployment: README, "Running for many candidates").

The full path: rows in Postgres, messages in Redis, `celery worker -Q grade.cpu
--concurrency 1` processes with the default warm pool, the sweeper with beat, the Docker
sandbox. A burst of correct variants of every exercise (tests/grading/variants/), round
robin, is queued at once; the clock runs from the first submission to the last verdict.

It writes into the database DATABASE_URL names (give it a scratch one: it migrates it)
and uses CELERY_BROKER_URL (Redis). Nothing else may consume grade.cpu meanwhile.

usage: DATABASE_URL=postgres://.../scratch CELERY_BROKER_URL=redis://.../N \\
       python benchmarks/throughput.py [--workers 2] [--rounds 3] [--exercise SLUG ...]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["GRADING_MAX_ACTIVE"] = "100000"  # one account queues the whole burst

FINAL = ("passed", "failed", "error", "sandbox_error")


def correct_variant(slug: str) -> str:
    folder = ROOT / "tests" / "grading" / "variants" / slug.replace("-", "_")
    return sorted(folder.glob("correct_*.py"))[0].read_text()


def start_worker(name: str, args: list[str], logs: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-n", f"{name}@%h",
               "--loglevel", "INFO", "--without-gossip", "--without-mingle", *args]  # fmt: skip
    log = (logs / f"{name}.log").open("w")
    return subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            start_new_session=True)  # fmt: skip


def wait_ready(names: list[str], procs: list[subprocess.Popen], logs: Path) -> None:
    deadline = time.monotonic() + 180
    for name, proc in zip(names, procs, strict=True):
        while "ready." not in (logs / f"{name}.log").read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit((logs / f"{name}.log").read_text()[-3000:])
            time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="submissions per exercise")
    parser.add_argument("--exercise", action="append", dest="exercises")
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection

    from grading import services
    from grading.engine import exercise_list
    from grading.models import Submission

    if connection.vendor != "postgresql" or not os.environ.get("CELERY_BROKER_URL", "").startswith(
        "redis://"
    ):
        raise SystemExit("set DATABASE_URL=postgres://... and CELERY_BROKER_URL=redis://...")
    call_command("migrate", verbosity=0)
    slugs = args.exercises or [spec.slug for spec in exercise_list()]
    user, _ = User.objects.get_or_create(username="benchmark-throughput")
    Submission.objects.filter(user=user).delete()

    logs = Path(tempfile.mkdtemp(prefix="throughput-"))
    names = ["sweeper"] + [f"w{i}" for i in range(1, args.workers + 1)]
    procs = [start_worker("sweeper", ["-Q", "grade.sweep", "--pool", "solo", "--beat",
                                      "--schedule", str(logs / "beat")], logs)]  # fmt: skip
    procs += [start_worker(n, ["-Q", "grade.cpu", "--concurrency", "1"], logs) for n in names[1:]]
    try:
        wait_ready(names, procs, logs)
        # One grading per worker first: its warm pool learns the job's shape, as in a
        # deployment that has been running; not counted.
        warmup = [services.submission_create(user=user, exercise=slugs[0],
                                             code=correct_variant(slugs[0]))
                  for _ in range(args.workers)]  # fmt: skip
        while (
            Submission.objects.filter(pk__in=[s.pk for s in warmup])
            .exclude(status__in=FINAL)
            .exists()
        ):
            time.sleep(0.5)
        began = time.monotonic()
        ids = [
            services.submission_create(user=user, exercise=slug, code=correct_variant(slug)).pk
            for _ in range(args.rounds)
            for slug in slugs
        ]
        while Submission.objects.filter(pk__in=ids).exclude(status__in=FINAL).exists():
            if time.monotonic() - began > 1800:
                raise SystemExit("not all graded within 30 minutes")
            time.sleep(0.5)
        took = time.monotonic() - began
        rows = list(Submission.objects.filter(pk__in=ids).values("exercise", "status", "wall_s"))
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    passed = sum(1 for r in rows if r["status"] == "passed")
    load = os.getloadavg()[0]
    print(f"{len(ids)} submissions ({len(slugs)} exercises x {args.rounds}), "
          f"{args.workers} workers, {os.cpu_count()} cores, load average {load:.1f} at the end")  # fmt: skip
    print(f"all final in {took:.1f} s: {len(ids) / took * 60:.1f} graded per minute, "
          f"{passed} passed")  # fmt: skip
    for slug in slugs:
        walls = [r["wall_s"] for r in rows if r["exercise"] == slug and r["wall_s"]]
        if walls:
            print(f"  {slug:<20} sandbox run median {statistics.median(walls):5.1f} s")
    return 0 if passed == len(ids) else 1


if __name__ == "__main__":
    sys.exit(main())
