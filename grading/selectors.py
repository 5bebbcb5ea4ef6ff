"""Reads of the grading app. A learner's reads are always filtered by that learner."""

from __future__ import annotations

from dataclasses import dataclass
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
    """Every exercise with this learner's best graded score (hidden tests only)."""
    from grading import engine

    best = {
        row["exercise"]: row
        for row in Submission.objects.filter(user=user, kind=Submission.Kind.SUBMIT)
        .values("exercise")
        .annotate(best=Max("score"), n=Count("id"))
    }
    return [
        ExerciseRow(
            slug=spec.slug,
            title=exercise_title(slug=spec.slug, default=spec.title),
            queue=spec.queue,
            best_score=best.get(spec.slug, {}).get("best"),
            attempts=best.get(spec.slug, {}).get("n", 0),
        )
        for spec in engine.exercise_list()
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
