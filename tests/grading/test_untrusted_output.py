"""Whatever comes out of the sandbox, the worker ends the submission with a sound verdict.

Found from outside: a NUL byte in stderr crashed storing the outcome on Postgres and left
the row running; code that makes compile() recurse too deeply was retried as our fault; an
8 MiB frame of nested lists took 1.4 s and 287 MB to parse; one absurd array shape refused
the whole submission. Run on the default database and, in CI, on Postgres
(DATABASE_URL), where NUL is refused by the database itself.
"""

from __future__ import annotations

import base64
import json
import time
import tracemalloc

import pytest

from grading import engine, flow, messages, services
from grading.compare import MAX_JSON_DEPTH, json_shape_ok, parse_frame
from grading.models import Submission, TestResult
from grading.verdict import outcomes_compute
from tests.grading.conftest import SE_BLOCK_SOLUTION


@pytest.fixture
def docker_sandbox(sandbox_image, settings):
    settings.SANDBOX_BACKEND = "docker"
    settings.SANDBOX_IMAGE = sandbox_image
    return sandbox_image


def _submit_and_grade(user, code: str) -> Submission:
    submission = services.submission_create(
        user=user, exercise="se-block", code=code, kind="submit", enqueue=False
    )
    flow.submission_grade(submission_id=submission.pk, requeue=False)
    submission.refresh_from_db()
    return submission


@pytest.mark.django_db
@pytest.mark.docker
def test_nul_bytes_in_stderr_and_in_exception_messages_are_stored_visibly(learner, docker_sandbox):
    code = (
        "import sys\n"
        "sys.stderr.write('before\\x00after\\n')\n"
        "raise RuntimeError('a NUL \\x00 inside, and a lone surrogate \\udc80')\n"
    )
    submission = _submit_and_grade(learner, code)
    assert submission.status == Submission.Status.ERROR  # the candidate's fault, final
    assert submission.error_kind == "runtime"
    assert submission.attempts <= 1
    assert "before\u2400after" in submission.stderr_excerpt
    assert "a NUL \u2400 inside" in submission.stderr_excerpt
    assert "\x00" not in submission.stderr_excerpt


@pytest.mark.django_db
@pytest.mark.docker
def test_nul_bytes_in_test_messages_are_stored(learner, docker_sandbox):
    # The solution's exception text reaches every test's message through `raised()`.
    code = SE_BLOCK_SOLUTION.replace(
        "def forward(self, x):", "def forward(self, x):\n        raise ValueError('x\\x00y')"
    )
    submission = _submit_and_grade(learner, code)
    assert submission.status == Submission.Status.FAILED
    messages = list(
        TestResult.objects.filter(submission=submission).values_list("message", flat=True)
    )
    assert any("x\u2400y" in m for m in messages)
    assert not any("\x00" in m for m in messages)


def test_clean_text_leaves_ordinary_text_alone_and_makes_the_rest_storable():
    assert flow.clean_text("déjà vu ✓") == "déjà vu ✓"
    assert flow.clean_text("a\x00b") == "a\u2400b"
    assert flow.clean_text("lone \udc80 surrogate") == "lone ? surrogate"


@pytest.mark.django_db
def test_an_outcome_the_database_refuses_still_ends_the_submission(learner, monkeypatch):
    from django.db import DataError

    submission = services.submission_create(
        user=learner, exercise="se-block", code=SE_BLOCK_SOLUTION, kind="submit", enqueue=False
    )
    claimed = flow.timezone.now()
    Submission.objects.filter(pk=submission.pk).update(status="running", started_at=claimed)
    real_store = flow._store
    calls = []

    def refusing_once(**kwargs):
        calls.append(kwargs["values"]["status"])
        if len(calls) == 1:
            raise DataError("value refused")  # as Postgres refuses a NUL byte
        return real_store(**kwargs)

    monkeypatch.setattr(flow, "_store", refusing_once)
    stored = flow._finish(
        submission=submission,
        claimed_at=claimed,
        values={"status": "failed", "message": "1 of 2", "score": 0.5},
        tests=[],
    )
    assert stored and calls == ["failed", Submission.Status.SANDBOX_ERROR]
    submission.refresh_from_db()
    assert submission.status == Submission.Status.SANDBOX_ERROR
    assert submission.message == messages.STORE_FAILED_MESSAGE


@pytest.mark.parametrize("source", ['"x"' + ".a" * 20_000, "y = " + "-" * 60_000 + "1"])
def test_source_that_makes_the_compiler_recurse_is_the_candidates_syntax_error(source):
    verdict = engine.grade(exercise="se-block", source=source, backend="none")
    assert verdict.status == "error" and verdict.error_kind == "syntax"
    assert "ran out of" in verdict.tests[0].message and "compiling" in verdict.tests[0].message


def _framed(payload: bytes, nonce: str = "d" * 32) -> bytes:
    return f"{nonce}:{base64.b64encode(payload).decode()}:{nonce}".encode()


def test_a_frame_of_deeply_nested_lists_is_refused_before_parsing_cheaply():
    hostile = b'{"probes": {"p": ' + b"[" * (4 * 1024 * 1024) + b"]" * (4 * 1024 * 1024) + b"}}"
    tracemalloc.start()
    started = time.perf_counter()
    assert parse_frame(_framed(hostile), "d" * 32) is None
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # Linear scans of the bytes only: well under what parsing cost (1.4 s, 287 MB).
    assert elapsed < 1.0 and peak < 64 * 1024 * 1024, (elapsed, peak)


def test_many_empty_containers_are_refused_and_honest_frames_are_not():
    wide = json.dumps({"probes": {"p": {"x": [[] for _ in range(300_000)]}}}).encode()
    assert not json_shape_ok(wide)
    assert parse_frame(_framed(wide), "d" * 32) is None
    deep_ok = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert json_shape_ok(deep_ok)
    assert not json_shape_ok(b"[" + deep_ok + b"]")
    honest = json.dumps({"probes": {"p": {"errors": {}, "v": [[1, 2], {"a": [3]}]}}}).encode()
    assert parse_frame(_framed(honest), "d" * 32) == json.loads(honest)


def test_an_absurd_array_shape_fails_its_own_checks_only():
    from grading.exercises import all_exercises
    from grading.harness import harness_module, probes_module

    ex = {e.slug: e for e in all_exercises()}["se-block"]
    plan = ex.build(seed=3, sample=True)
    results = probes_module().measure(plan.probes, plan.arrays, ex.reference_module())
    reference = engine.reference_measure(exercise=ex, plan=plan)
    framed = harness_module().frame("e" * 32, {"probes": results})
    body = json.loads(base64.b64decode(framed.strip().split(b":")[1]))
    body["probes"]["m0"]["y"]["__nd__"] = [1 << 40, 1 << 40, 1 << 40]
    back = parse_frame(_framed(json.dumps(body).encode(), "e" * 32), "e" * 32)
    assert back is not None
    outcomes = outcomes_compute(plan=plan, candidate=back["probes"], reference=reference)
    failed = {o.name for o in outcomes if not o.passed}
    m0 = {c.name for c in plan.checks if c.probe == "m0"}
    assert any(n.startswith("output") for n in failed & m0)
    assert failed <= {n for n in m0 if n.startswith("output")}
