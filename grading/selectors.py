"""Reads of the grading app. A learner's reads are always filtered by that learner."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Max, QuerySet
from django.http import Http404

from grading.models import Submission

if TYPE_CHECKING:
    from quizbank.models import ExerciseStatement


@dataclass(frozen=True)
class ExerciseRow:
    slug: str
    title: str
    queue: str
    best_score: float | None
    attempts: int

    @property
    def best_percent(self) -> int | None:
        return None if self.best_score is None else round(self.best_score * 100)


def exercise_list_for(*, user: AbstractBaseUser) -> list[ExerciseRow]:
    """Every exercise with this learner's best graded score (hidden tests only): two
    queries whatever the number of exercises (the scores, and every title)."""
    from grading import catalog
    from quizbank.models import ExerciseStatement

    titles: dict[str, str] = {}
    statements = (
        ExerciseStatement.objects.filter(retired=False)
        .order_by("-pk")  # the first by pk wins, as in exercise_statement_get
        .values_list("slug", "title")
    )
    for slug, title in statements:
        titles[slug] = title

    best = {
        row["exercise"]: row
        for row in Submission.objects.filter(user=user, kind=Submission.Kind.SUBMIT)
        .values("exercise")
        .annotate(best=Max("score"), n=Count("id"))
    }
    return [
        ExerciseRow(
            slug=spec.slug,
            title=titles.get(spec.slug) or spec.title,
            queue=spec.queue,
            best_score=best.get(spec.slug, {}).get("best"),
            attempts=best.get(spec.slug, {}).get("n", 0),
        )
        for spec in catalog.exercise_list()
    ]


def exercise_statement_get(*, slug: str) -> ExerciseStatement | None:
    from quizbank.models import ExerciseStatement

    return ExerciseStatement.objects.filter(slug=slug, retired=False).order_by("pk").first()


def exercise_title(*, slug: str, default: str) -> str:
    statement = exercise_statement_get(slug=slug)
    return statement.title if statement is not None and statement.title else default


def submission_list_for(
    *, user: AbstractBaseUser, exercise: str | None = None, limit: int = 20
) -> QuerySet[Submission]:
    qs = Submission.objects.filter(user=user)
    if exercise is not None:
        qs = qs.filter(exercise=exercise)
    return qs.order_by("-created_at", "-id")[:limit]


def submission_get_for(*, user: AbstractBaseUser, submission_id: int) -> Submission:
    """The learner's own submission with its test rows; Http404 for anyone else's."""
    submission = (
        Submission.objects.filter(pk=submission_id, user=user).prefetch_related("tests").first()
    )
    if submission is None:
        raise Http404("No such submission.")
    return submission


def submission_last_code(*, user: AbstractBaseUser, exercise: str) -> str | None:
    return (
        Submission.objects.filter(user=user, exercise=exercise)
        .order_by("-created_at", "-id")
        .values_list("code", flat=True)
        .first()
    )


@dataclass
class VerdictRow:
    """One row of the verdict's table: a test, or the tests one shared cause stopped."""

    message: str
    passed: bool
    names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)

    @property
    def grouped(self) -> bool:
        return len(self.names) > 1


def verdict_rows(*, tests: list) -> list[VerdictRow]:
    """Tests in their order, with failures that share a "not run" cause in one row.

    When one step fails (the state dict does not load, the code timed out), every test
    that depends on it fails with the same message naming that step; the learner reads the
    cause once, at the place of the first test it stopped, with the stopped tests listed.
    Tests that ran keep a row each.
    """
    rows: list[VerdictRow] = []
    groups: dict[str, VerdictRow] = {}
    for test in tests:
        shared = not test.passed and test.message.startswith("not run")
        if shared and test.message in groups:
            row = groups[test.message]
            row.names.append(test.name)
            if test.category not in row.categories:
                row.categories.append(test.category)
            continue
        row = VerdictRow(test.message, test.passed, [test.name], [test.category])
        if shared:
            groups[test.message] = row
        rows.append(row)
    return rows


_FRAME = re.compile(r'File "(?:[^"]*/)?solution\.py", line (\d+)|at line (\d+) of solution\.py')


def error_line(*, stderr: str, messages: tuple[str, ...] | list[str] = ()) -> int | None:
    """The line of solution.py closest to the error: a syntax error's line, the innermost
    frame of solution.py in a traceback, or else the line a failing test's message names
    (None when nothing names one)."""
    for text in (stderr or "", *messages):
        found = _FRAME.findall(text)
        if found:
            a, b = found[-1]
            return int(a or b)
    return None
