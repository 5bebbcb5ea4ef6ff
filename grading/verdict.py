"""From raw measurements to a verdict: the checks, their messages, the score.

Everything here runs in the worker, never in the sandbox: the candidate's measurements
(parsed from the harness's frame) are compared, check by check, with the reference's.
A check passes only when its measurement came back and matched (fail closed).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import sandbox
from grading.compare import Missing, Unusable, probe, raised
from grading.exercises import SOURCE, TestPlan


@dataclass(frozen=True)
class TestOutcome:
    name: str
    category: str  # "shape" | "params" | "gradient" | "init" | "value"
    passed: bool
    message: str

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "category": self.category,
            "passed": self.passed,
            "message": self.message,
        }


@dataclass(frozen=True)
class Verdict:
    status: str  # "passed" | "failed" | "error" | "sandbox_error"
    score: float
    passed: int
    total: int
    tests: list[TestOutcome]
    # "" | "syntax" | "runtime" | "timeout" | "memory" | "output_limit" | "sandbox" (the
    # sandbox failed) | "unavailable" (this host has no sandbox backend at all)
    error_kind: str
    stderr_excerpt: str
    wall_s: float
    backend: str
    detail: str = ""  # our own diagnostics for a sandbox_error (never the candidate's fault)

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "score": self.score,
            "passed": self.passed,
            "total": self.total,
            "tests": [t.to_json() for t in self.tests],
            "error_kind": self.error_kind,
            "stderr_excerpt": self.stderr_excerpt,
            "wall_s": round(self.wall_s, 3),
            "backend": self.backend,
            "detail": self.detail,
        }


def outcomes_compute(
    *, plan: TestPlan, candidate: dict, reference: dict, source: str = ""
) -> list[TestOutcome]:
    """Each check on its own; anything missing or malformed fails that check only."""
    outcomes = []
    reference = {**reference, SOURCE: {}}
    for check in plan.checks:
        try:
            got = {"source": source} if check.probe == SOURCE else probe(candidate, check.probe)
        except Missing:
            outcomes.append(TestOutcome(check.name, check.category, False, MISSING))
            continue
        try:
            passed, message = check.decide(got, reference[check.probe])
            passed = passed is True
        except Unusable as exc:
            passed, message = False, _not_run(raised(got)) or str(exc)
        except Missing:
            passed, message = False, _not_run(raised(got)) or MISSING
        except Exception as exc:  # a malformed value of an unexpected type: fail closed
            passed, message = False, _not_run(raised(got)) or f"{MISSING} ({type(exc).__name__})"
        if not passed and raised(got) and raised(got) not in message:
            message = f"{message} ({raised(got)})"
        outcomes.append(TestOutcome(check.name, check.category, passed, message[:1000]))
    return outcomes


MISSING = "measurement missing or malformed: this test got no usable result from your code"


def _not_run(cause: str) -> str:
    """The message of a test that could not run because of an earlier step's error.

    Every test that depends on that step gets exactly this text, so the verdict page can
    show the cause once, with the tests it stopped (grading.selectors.verdict_rows).
    """
    return f"{NOT_RUN_PREFIX}{cause}" if cause else ""


NOT_RUN_PREFIX = "not run: "


# What the harness reports when the solution lacks a name the exercise asks for.
_NO_NAME = re.compile(r"module 'solution' has no attribute '\w+'|solution has no \w+")


def interface_missing(tests: list[TestOutcome]) -> bool:
    """True when nothing passed because the code lacks the class or function asked for.

    Every test failed, and each one that says why names a missing name: the verdict is
    then an "interface" error (its own message), not a score of zero.
    """
    failed = [t for t in tests if not t.passed]
    if not tests or len(failed) != len(tests):
        return False
    explained = [t for t in failed if t.message != MISSING]
    return bool(explained) and all(_NO_NAME.search(t.message) for t in explained)


def all_failed(plan: TestPlan, message: str) -> list[TestOutcome]:
    return [TestOutcome(c.name, c.category, False, message) for c in plan.checks]


def verdict_from(
    tests: list[TestOutcome],
    *,
    status: str | None = None,
    error_kind: str = "",
    stderr: str = "",
    started: float,
    backend: str,
    detail: str = "",
) -> Verdict:
    passed = sum(t.passed for t in tests)
    total = len(tests)
    if status is None:
        status = "passed" if total and passed == total else "failed"
    return Verdict(
        status=status,
        score=passed / total if total else 0.0,
        passed=passed,
        total=total,
        tests=tests,
        error_kind=error_kind,
        stderr_excerpt=stderr,
        wall_s=time.monotonic() - started,
        backend=backend,
        detail=detail,
    )


def limit_message(status: str, limits: sandbox.Limits) -> tuple[str, str]:
    """The error kind and the learner's message for a run stopped by a limit, naming it."""
    if status == sandbox.Status.TIMEOUT:
        return (
            "timeout",
            f"not run to the end: your code ran past the {limits.wall_s:g} s time limit",
        )
    if status == sandbox.Status.MEMORY_LIMIT:
        return (
            "memory",
            f"not run to the end: your code went past the {limits.memory_mb:,} MB memory limit",
        )
    output = limits.output_bytes / (1024 * 1024)
    return (
        "output_limit",
        f"not run to the end: your code printed more than the {output:g} MiB output limit",
    )
