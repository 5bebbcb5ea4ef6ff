"""Submit-to-verdict through the real pipeline, warm pool against cold containers.

Every figure goes through the same path as a learner's run: the grading service stores
the submission in Postgres and queues it on Redis, a `celery worker` process (started
here, the project's own configuration) claims it, grades it in a sandbox and writes the
verdict back. A submission's latency is its row's finished_at minus its created_at, both
written by the pipeline itself.

1. Per exercise, warm and cold: one worker process with the warm pool
   (SANDBOX_POOL_SIZE=1) and one with the pool off (0: a fresh container started for
   each job), both running, taking gradings in turn (Celery's remote control), so that
   warm and cold of an exercise are measured minutes apart under the same load; a
   correct solution submitted --runs times, --pause seconds apart (a learner's think
   time, in which the pool refills), after one submission not counted (the worker's
   first import of torch, the pool's first sight of the job's shape).
2. Throughput at saturation: two worker processes (`--concurrency 2`), warm pool on,
   --batch submissions queued at once, correct and wrong solutions of every exercise
   mixed; graded per minute from the first submission to the last verdict.
3. The worker's memory: the largest resident set of its two processes after 50 and
   after --rss-total graded submissions (the throughput worker goes on grading the mix).

Needs Postgres and Redis (DATABASE_URL, CELERY_BROKER_URL; the benchmark migrates the
database and empties the grading queue of that Redis database, so give it its own) and
the Docker sandbox image. --exercise narrows phase 1 and the mix of phases 2-3.

With --profile FILE, py-spy (a dev dependency) samples the worker's processes through
the throughput batch and the functions that took the most CPU are printed (collapsed
stacks saved to FILE). The throughput phase always prints how busy the machine's CPUs
were and the CPU seconds each submission cost: inside the sandboxes (the engine's
cgroup of all containers), in the worker's processes, and the rest of the machine.

usage: python benchmarks/grading.py [--runs 5] [--pause 3] [--exercise SLUG ...]
       [--batch 60] [--rss-total 500] [--backend docker] [--skip latency,throughput,rss]
       [--profile FILE] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VARIANTS = ROOT / "tests" / "grading" / "variants"
FINAL = ("passed", "failed", "error", "sandbox_error")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def variants(slug: str, prefix: str) -> list[str]:
    folder = VARIANTS / slug.replace("-", "_")
    return [path.read_text() for path in sorted(folder.glob(f"{prefix}_*.py"))]


def django_setup() -> None:
    for name in ("DATABASE_URL", "CELERY_BROKER_URL"):
        if not os.environ.get(name):
            raise SystemExit(f"set {name} (Postgres and Redis: the real pipeline)")
    # One benchmark user keeps many runs in flight; the limit is read by the service here.
    os.environ["GRADING_MAX_ACTIVE"] = "100000"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class Worker:
    """A `celery worker` process group on grade.cpu, stopped (and waited for) on exit."""

    def __init__(
        self, *, concurrency: int, pool_size: int, backend: str, name: str, queue: str = "grade.cpu"
    ) -> None:
        self.hostname = f"{name}-{os.getpid()}@{socket.gethostname()}"
        self.log_path = Path(tempfile.mkstemp(prefix=f"grading-bench-{name}-", suffix=".log")[1])
        env = {
            **os.environ,
            "SANDBOX_POOL_SIZE": str(pool_size),
            "SANDBOX_BACKEND": backend,
            "PYTHONUNBUFFERED": "1",
        }
        with self.log_path.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue,
                 "-n", self.hostname, "--concurrency", str(concurrency),
                 "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
                 "--without-heartbeat"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.concurrency = concurrency

    def __enter__(self) -> Worker:
        deadline = time.monotonic() + 120
        while len(self.children()) < self.concurrency:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"the worker did not start:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def children(self) -> list[int]:
        try:
            path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
            return [int(pid) for pid in path.read_text().split()]
        except OSError:
            return []

    def rss_mb(self) -> float:
        """The largest resident set among the worker's pool processes, in MB."""
        sizes = []
        for pid in self.children():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
        return max(sizes, default=0.0)

    def consume(self, on: bool) -> None:
        """Start or stop taking gradings (grade.cpu), through Celery's remote control."""
        from config.celery_app import app

        control = app.control.add_consumer if on else app.control.cancel_consumer
        for _ in range(6):  # a worker just started may not listen yet
            if control("grade.cpu", destination=[self.hostname], reply=True, timeout=10):
                return
        raise SystemExit(f"{self.hostname} did not answer the remote control")

    def stop(self) -> None:
        group = self.proc.pid
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # warm shutdown: pools drain their waiters
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            self.proc.wait()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.killpg(group, signal.SIGKILL)


class Submitter:
    """Submissions through the grading service, and their verdicts read from the rows."""

    def __init__(self) -> None:
        from django.contrib.auth import get_user_model

        self.user, _ = get_user_model().objects.get_or_create(username="grading-benchmark")

    def submit(self, slug: str, code: str) -> int:
        from grading import services

        return services.submission_create(user=self.user, exercise=slug, code=code).pk

    def wait(
        self,
        ids: list[int],
        timeout_s: float = 600.0,
        on_progress: Callable[[int], None] | None = None,
    ) -> dict[int, tuple[str, float]]:
        """id -> (status, seconds from created_at to finished_at), once all are final."""
        from grading.models import Submission

        deadline = time.monotonic() + timeout_s
        done: dict[int, tuple[str, float]] = {}
        while len(done) < len(ids):
            if time.monotonic() > deadline:
                raise SystemExit(f"no verdict within {timeout_s:g} s for {len(ids) - len(done)}")
            rows = Submission.objects.filter(pk__in=set(ids) - set(done), status__in=FINAL)
            for pk, status, created, finished in rows.values_list(
                "pk", "status", "created_at", "finished_at"
            ):
                done[pk] = (status, (finished - created).total_seconds())
            if on_progress is not None:
                on_progress(len(done))
            if len(done) < len(ids):
                time.sleep(0.05)
        return done


def purge_queue() -> None:
    import redis

    redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).delete("grade.cpu")


def latency(
    submitter: Submitter, slugs: list[str], *, runs: int, pause: float, backend: str
) -> dict[str, dict[str, dict[str, float]]]:
    """Both workers run side by side; each exercise is measured warm, then cold, the
    other worker not taking gradings meanwhile, so that both see the same load."""
    figures: dict[str, dict[str, dict[str, float]]] = {slug: {} for slug in slugs}
    idle = "grading-benchmark.idle"  # a queue nobody sends to: started, taking nothing
    with (
        Worker(concurrency=1, pool_size=1, backend=backend, name="warm", queue=idle) as warm,
        Worker(concurrency=1, pool_size=0, backend=backend, name="cold", queue=idle) as cold,
    ):
        for slug in slugs:
            code = variants(slug, "correct")[0]
            for mode, worker in (("warm", warm), ("cold", cold)):
                worker.consume(True)
                times = []
                for i in range(runs + 1):
                    pk = submitter.submit(slug, code)
                    status, seconds = submitter.wait([pk])[pk]
                    if status != "passed":
                        raise SystemExit(f"{slug} ({mode}): a correct solution got {status}")
                    if i:  # the first one shows the worker and the pool this job
                        times.append(seconds)
                    time.sleep(pause)
                worker.consume(False)
                figures[slug][mode] = {
                    "p50": round(statistics.median(times), 3),
                    "p95": round(percentile(times, 0.95), 3),
                }
                log(f"{slug:<20} {mode}: p50 {figures[slug][mode]['p50']:.2f} s, "
                    f"p95 {figures[slug][mode]['p95']:.2f} s ({runs} runs; load "
                    f"{os.getloadavg()[0]:.1f})")  # fmt: skip
    return figures


def mix(slugs: list[str]) -> Iterator[tuple[str, str, str]]:
    """(slug, expected verdict, code), correct and wrong alternating over every exercise."""
    pools = {
        slug: [("passed", c) for c in variants(slug, "correct")]
        + [("failed", c) for c in variants(slug, "wrong")]
        for slug in slugs
    }
    i = 0
    while True:
        for slug in slugs:
            correct = [p for p in pools[slug] if p[0] == "passed"]
            wrong = [p for p in pools[slug] if p[0] != "passed"] or correct
            chosen = correct if i % 2 == 0 else wrong
            expected, code = chosen[i // 2 % len(chosen)]
            yield slug, expected, code
            i += 1


def start_profile(pid: int, path: str) -> subprocess.Popen:
    spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen(
        [str(spy), "record", "--pid", str(pid), "--subprocesses", "--format", "raw",
         "--rate", "50", "--output", path, "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


# Frames every sample of a thread or a Celery process shares: left out of the summary.
GENERIC: set[str] = set()
GENERIC_FILES = (
    " threading.py", " thread.py", " core.py", " decorators.py", " bootsteps.py",
    " celery.py", " __main__.py", " worker.py", " base.py", " <frozen runpy>",
)  # fmt: skip


def print_profile(spy: subprocess.Popen, path: str, top: int = 25) -> None:
    """Stop py-spy and print the functions with the most samples (inclusive), of all."""
    spy.send_signal(signal.SIGINT)
    spy.wait(timeout=60)
    inclusive: dict[str, int] = {}
    total = 0
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        # "function (path/file.py:line)" -> "function file.py", each counted once a stack
        frames = {
            f"{f.split(' (')[0]} {f.rsplit('/', 1)[-1].rstrip(')').rsplit(':', 1)[0]}"
            for f in stack.split(";")[1:]
        }
        for frame in frames - GENERIC:
            if not frame.startswith("process ") and not frame.endswith(GENERIC_FILES):
                inclusive[frame] = inclusive.get(frame, 0) + int(count)
    log(f"profile of the worker processes ({total} samples at 50 Hz, on CPU):")
    for frame, count in sorted(inclusive.items(), key=lambda x: -x[1])[:top]:
        log(f"  {100 * count / max(total, 1):5.1f}%  {frame}")


# --- where the CPU goes during the throughput batch -----------------------------------

_TICK = os.sysconf("SC_CLK_TCK")
# The engine's parent cgroup of every container (cgroupfs driver, v1 then v2): it keeps
# counting the CPU of containers already removed.
_CONTAINER_CPU = (
    (Path("/sys/fs/cgroup/cpuacct/docker/cpuacct.usage"), 1e-9),
    (Path("/sys/fs/cgroup/docker/cpu.stat"), 1e-6),
)


def _machine_cpu() -> float:
    """CPU seconds the whole machine has spent busy (not idle, not waiting on I/O)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / _TICK


def _containers_cpu() -> float | None:
    for path, unit in _CONTAINER_CPU:
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.name == "cpu.stat":
            text = next(
                line.split()[1] for line in text.splitlines() if line.startswith("usage_usec")
            )
        return int(text) * unit
    return None


def _group_cpu(pgid: int) -> float:
    """CPU seconds of the live processes of one process group (the worker's)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                text = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2 :].split()
            if int(fields[2]) == pgid:
                total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


def cpu_sample(worker: Worker) -> dict[str, float | None]:
    return {
        "machine": _machine_cpu(),
        "containers": _containers_cpu(),
        "worker": _group_cpu(worker.proc.pid),
    }


def cpu_split(before: dict, after: dict, *, jobs: int, seconds: float) -> dict:
    """CPU seconds per graded submission: inside the sandboxes (their whole life: start,
    imports, the job), in the worker's processes (Celery, the reference, the pool's
    client side), and the rest of the machine (the container engine, Postgres, Redis,
    this script); and how busy the machine's CPUs were."""
    spent = {
        k: after[k] - before[k] for k in after if after[k] is not None and before[k] is not None
    }
    split = {
        "busy_fraction": round(spent["machine"] / (seconds * (os.cpu_count() or 1)), 3),
        "per_submission_s": {"all": round(spent["machine"] / jobs, 3)},
    }
    parts = split["per_submission_s"]
    rest = spent["machine"]
    for part in ("containers", "worker"):
        if part in spent:
            parts[part] = round(spent[part] / jobs, 3)
            rest -= spent[part]
    parts["rest"] = round(rest / jobs, 3)
    return split


def throughput_and_rss(
    submitter: Submitter, slugs: list[str], *, batch: int, rss_total: int, backend: str,
    measure_rss: bool, profile: str | None = None,
) -> tuple[float | None, dict[str, float], dict]:  # fmt: skip
    source = mix(slugs)
    rss: dict[str, float] = {}
    graded = 0
    with Worker(concurrency=2, pool_size=1, backend=backend, name="saturation") as worker:
        # Not counted: both processes import torch and show the pool every job shape.
        ids = [submitter.submit(slug, code) for slug, _, code in [next(source) for _ in slugs]]
        submitter.wait(ids)
        graded += len(ids)
        time.sleep(5)  # the pools refill
        spy = start_profile(worker.proc.pid, profile) if profile else None
        cpu_before = cpu_sample(worker)
        started = time.monotonic()
        jobs = [next(source) for _ in range(batch)]
        ids = [submitter.submit(slug, code) for slug, _, code in jobs]

        def at_50(done: int) -> None:  # the first memory figure, taken mid-batch
            if measure_rss and "after_50" not in rss and graded + done >= 50:
                rss["after_50"] = round(worker.rss_mb(), 1)
                log(f"worker RSS after {graded + done} submissions: {rss['after_50']} MB")

        verdicts = submitter.wait(ids, on_progress=at_50)
        elapsed = time.monotonic() - started
        cpu = cpu_split(cpu_before, cpu_sample(worker), jobs=len(ids), seconds=elapsed)
        log(f"CPU during the batch: {100 * cpu['busy_fraction']:.0f}% busy; CPU seconds per "
            f"submission: {cpu['per_submission_s']}")  # fmt: skip
        if spy is not None and profile:
            print_profile(spy, profile)
        per_min = round(len(ids) / elapsed * 60, 1)
        wrongly = [
            (slug, expected, verdicts[pk][0])
            for pk, (slug, expected, _) in zip(ids, jobs, strict=True)
            if verdicts[pk][0] != expected
        ]
        log(f"throughput: {len(ids)} graded in {elapsed:.1f} s: {per_min} per minute"
            + (f"; unexpected verdicts {wrongly[:5]}" if wrongly else ""))  # fmt: skip
        graded += len(ids)
        if not measure_rss:
            return per_min, rss, cpu
        # Memory: the same worker goes on with the same mix, a batch in flight at a time.
        for mark in (50, rss_total):
            if mark == 50 and "after_50" in rss:
                continue
            while graded < mark:
                ids = [submitter.submit(s, c) for s, _, c in [next(source) for _ in range(10)]]
                submitter.wait(ids)
                graded += len(ids)
            key = f"after_{mark}" if mark == 50 else f"after_{rss_total}"
            rss[key] = round(worker.rss_mb(), 1)
            log(f"worker RSS after {graded} submissions: {rss[key]} MB")
    return per_min, rss, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pause", type=float, default=3.0, help="seconds between runs")
    parser.add_argument("--exercise", action="append", dest="exercises")
    parser.add_argument("--batch", type=int, default=60, help="submissions queued at once")
    parser.add_argument("--rss-total", type=int, default=500)
    parser.add_argument("--backend", default="docker")
    parser.add_argument("--skip", default="", help="comma-separated: latency,throughput,rss")
    parser.add_argument("--profile", metavar="FILE", help="py-spy the throughput batch")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    django_setup()
    from grading.engine import exercise_list

    slugs = args.exercises or [spec.slug for spec in exercise_list()]
    purge_queue()
    submitter = Submitter()
    load = os.getloadavg()
    log(f"backend {args.backend}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
        f"{os.cpu_count()} CPUs")  # fmt: skip
    exercises = (
        {}
        if "latency" in skip
        else latency(submitter, slugs, runs=args.runs, pause=args.pause, backend=args.backend)
    )
    per_min, rss, cpu = (None, {}, {})
    if "throughput" not in skip:
        per_min, rss, cpu = throughput_and_rss(
            submitter, slugs, batch=args.batch, rss_total=args.rss_total, backend=args.backend,
            measure_rss="rss" not in skip, profile=args.profile,
        )  # fmt: skip
    report = {
        "exercises": exercises,
        "throughput_per_min": per_min,
        "rss_mb": rss,
        "throughput_cpu": cpu,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{'exercise':<20} {'warm p50':>9} {'warm p95':>9} {'cold p50':>9} {'cold p95':>9}")
    for slug, modes in exercises.items():
        w, c = modes["warm"], modes["cold"]
        print(f"{slug:<20} {w['p50']:9.2f} {w['p95']:9.2f} {c['p50']:9.2f} {c['p95']:9.2f}")
    print(f"throughput (two worker processes): {per_min} graded per minute")
    if cpu:
        print(f"CPU during it: {100 * cpu['busy_fraction']:.0f}% busy; seconds per submission "
              f"{cpu['per_submission_s']}")  # fmt: skip
    print(f"worker RSS: {rss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
