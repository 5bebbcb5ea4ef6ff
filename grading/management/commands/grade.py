"""Grade a file against an exercise, synchronously, through the same services as a worker.

Exit status: 0 every test passed; 1 the submission failed or errored (a wrong result, a
syntax error, a timeout...); 2 the command could not grade (unknown exercise, unreadable
or refused file, no sandbox, or the sandbox kept failing).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError

from grading import flow, services
from grading.models import Submission

CANNOT_RUN = 2


class Command(BaseCommand):
    help = "Grade FILE against EXERCISE through the grading pipeline and print the verdict."

    def add_arguments(self, parser):
        parser.add_argument("exercise", help="exercise slug, e.g. se-block")
        parser.add_argument("file", help="the Python file to grade ('-' reads standard input)")
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="print the verdict as JSON"
        )
        parser.add_argument(
            "--sample", action="store_true", help="run the sample tests instead of the hidden ones"
        )

    def fail(self, message: str) -> None:
        self.stderr.write(f"grade: {message}")
        sys.exit(CANNOT_RUN)

    def handle(self, *args, exercise: str, file: str, as_json: bool, sample: bool, **options):
        from grading import engine
        from sandbox import SandboxUnavailable, select_backend

        try:
            source = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        except OSError as exc:
            self.fail(f"cannot read {file}: {exc.strerror or exc}")
        try:
            engine.exercise_get(exercise)
        except KeyError:
            known = ", ".join(spec.slug for spec in engine.exercise_list())
            self.fail(f"unknown exercise {exercise!r}; known: {known}")
        try:
            select_backend(settings.SANDBOX_BACKEND, image=settings.SANDBOX_IMAGE or None)
        except SandboxUnavailable as exc:
            self.fail(f"no sandbox available: {exc}")
        try:
            user = services.grading_cli_user()
        except DatabaseError as exc:
            self.fail(f"the database is not ready ({exc}); run: python manage.py migrate")
        try:
            submission = services.submission_create(
                user=user,
                exercise=exercise,
                code=source,
                kind=Submission.Kind.SAMPLE if sample else Submission.Kind.SUBMIT,
                enqueue=False,
            )
        except services.SubmissionRefused as exc:
            self.fail(str(exc))

        graded = flow.submission_grade(submission_id=submission.pk, requeue=False)
        while graded is not None and graded.status == Submission.Status.QUEUED:
            # A sandbox error: the service queued it again; retry here after the same backoff.
            time.sleep(flow.retry_countdown(attempts=graded.attempts - 1))
            graded = flow.submission_grade(submission_id=submission.pk, requeue=False)
        submission.refresh_from_db()
        self.report(submission, as_json=as_json)
        if submission.status == Submission.Status.PASSED:
            return
        if submission.status == Submission.Status.SANDBOX_ERROR:
            sys.exit(CANNOT_RUN)
        sys.exit(1)

    def report(self, submission: Submission, *, as_json: bool) -> None:
        tests = [
            {"name": t.name, "category": t.category, "passed": t.passed, "message": t.message}
            for t in submission.tests.all()
        ]
        if as_json:
            body = {
                "status": submission.status,
                "score": submission.score,
                "passed": submission.passed,
                "total": submission.total,
                "error_kind": submission.error_kind,
                "message": submission.message,
                "stderr_excerpt": submission.stderr_excerpt,
                "detail": submission.detail if submission.status == "sandbox_error" else "",
                "wall_s": submission.wall_s,
                "backend": submission.backend,
                "submission": submission.pk,
                "tests": tests,
            }
            self.stdout.write(json.dumps(body, indent=2))
            return
        self.stdout.write(
            f"{submission.exercise}: {submission.status.upper()}  {submission.message}"
        )
        for t in tests:
            mark = "PASS" if t["passed"] else "FAIL"
            line = f"  {mark}  {t['name']} [{t['category']}]"
            self.stdout.write(line + (f": {t['message']}" if t["message"] else ""))
        if submission.stderr_excerpt:
            self.stdout.write("--- error output ---\n" + submission.stderr_excerpt)
        if submission.status == Submission.Status.SANDBOX_ERROR and submission.detail:
            self.stdout.write(f"--- sandbox detail ---\n{submission.detail}")
        if submission.score is not None:
            self.stdout.write(
                f"score {submission.passed}/{submission.total}"
                + (f" in {submission.wall_s:.1f} s" if submission.wall_s else "")
            )
