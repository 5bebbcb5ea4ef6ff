"""Grading latency per exercise: p50 and p95 wall time of one full grading (job build,
sandbox run, reference measurement and comparison outside), hidden tests and samples.

It grades a correct variant from tests/grading/variants/ (a candidate's code, never the
reference). The end-to-end figure through HTTP, Postgres, Redis and a Celery worker is
printed by tests/grading/test_end_to_end.py into var/test-artifacts/.

Each is measured twice: with every container started cold (SANDBOX_POOL_SIZE=0) and
with the warm pool (containers started ahead, torch imported), gradings --pause seconds
apart as a learner's would be, so that the pool has refilled.

usage: python benchmarks/grading_latency.py [--runs 5] [--pause 4] [--backend docker]
       [--exercise SLUG ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grading.engine import exercise_list, grade  # noqa: E402


def correct_variant(slug: str) -> str:
    folder = ROOT / "tests" / "grading" / "variants" / slug.replace("-", "_")
    first = sorted(folder.glob("correct_*.py"))[0]
    return first.read_text()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _timed(slug: str, source: str, sample: bool, backend: str, runs: int, pause: float):
    times: list[float] = []
    total = 0
    for _ in range(runs):
        start = time.perf_counter()
        verdict = grade(exercise=slug, source=source, sample=sample, backend=backend)
        times.append(time.perf_counter() - start)
        if verdict.status != "passed":
            raise SystemExit(f"{slug}: a correct variant did not pass: {verdict.status}")
        total = verdict.total
        time.sleep(pause)  # a learner's think time: the pool refills meanwhile
    return times, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backend", default="docker")
    parser.add_argument("--exercise", action="append", dest="exercises")
    parser.add_argument(
        "--pause", type=float, default=4.0, help="seconds between gradings (think time)"
    )
    args = parser.parse_args()
    slugs = args.exercises or [spec.slug for spec in exercise_list()]
    print(f"backend {args.backend}, {args.runs} runs each, {args.pause:g} s apart; seconds")
    print(f"{'exercise':<20} {'mode':<7} {'pool':<5} {'p50':>6} {'p95':>6} {'tests':>6}")
    for slug in slugs:
        source = correct_variant(slug)
        for sample in (False, True):
            mode = "sample" if sample else "hidden"
            for pool in ("cold", "warm"):
                # The pool is read per run: 0 starts every container cold.
                os.environ["SANDBOX_POOL_SIZE"] = "0" if pool == "cold" else "1"
                if pool == "warm":  # one grading to show the pool this job's shape
                    _timed(slug, source, sample, args.backend, 1, args.pause)
                times, total = _timed(slug, source, sample, args.backend, args.runs, args.pause)
                p50, p95 = statistics.median(times), percentile(times, 0.95)
                print(f"{slug:<20} {mode:<7} {pool:<5} {p50:6.2f} {p95:6.2f} {total:6d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
