"""Grading latency per exercise: p50 and p95 wall time of one full grading (job build,
sandbox run, reference measurement and comparison outside), hidden tests and samples.

It grades a correct variant from tests/grading/variants/ (a candidate's code, never the
reference). The end-to-end figure through HTTP, Postgres, Redis and a Celery worker is
printed by tests/grading/test_end_to_end.py into var/test-artifacts/.

usage: python benchmarks/grading_latency.py [--runs 5] [--backend docker] [--exercise SLUG ...]
"""

from __future__ import annotations

import argparse
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backend", default="docker")
    parser.add_argument("--exercise", action="append", dest="exercises")
    args = parser.parse_args()
    slugs = args.exercises or [spec.slug for spec in exercise_list()]
    print(f"backend {args.backend}, {args.runs} runs each; seconds")
    print(f"{'exercise':<20} {'mode':<7} {'p50':>6} {'p95':>6} {'tests':>6}")
    for slug in slugs:
        source = correct_variant(slug)
        for sample in (False, True):
            times: list[float] = []
            total = 0
            for _ in range(args.runs):
                start = time.perf_counter()
                verdict = grade(exercise=slug, source=source, sample=sample, backend=args.backend)
                times.append(time.perf_counter() - start)
                if verdict.status != "passed":
                    print(f"{slug}: a correct variant did not pass: {verdict.status}")
                    return 1
                total = verdict.total
            mode = "sample" if sample else "hidden"
            p50, p95 = statistics.median(times), percentile(times, 0.95)
            print(f"{slug:<20} {mode:<7} {p50:6.2f} {p95:6.2f} {total:6d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
