"""A database made before the apps were split migrates in place and keeps every row.

The test winds the test database back to the last migrations of the single-app layout
(quizbank 0003, grading 0001: the tables are created by exactly those files), writes a
learner's history through the models of that time (profile, API token, skill ratings, a
plan with a ticked task, an FSRS card, reviews, a solved problem, a graded submission, a
mock attempt with an answer), migrates forward and reads each row back through today's
models in their new apps. Runs on SQLite, and on Postgres with DATABASE_URL.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import ApiToken, LearnerProfile
from grading.models import Submission, TestResult
from interviews.models import MockAnswer, MockAttempt
from learning.models import (
    LearnerCard,
    LearnerPlan,
    ProblemSolve,
    ReviewLogEntry,
    SkillRating,
    SkillRatingSnapshot,
    TaskCompletion,
)
from tests.quizbank.loading import FIXTURE

# The leaves of the migration graph before the split; the new apps had no migrations.
BEFORE = [("quizbank", "0003_mock_interviews"), ("grading", "0001_initial")]
NEW_APPS = ["accounts", "learning", "interviews"]
MOVED = {
    "accounts": ["learnerprofile", "apitoken"],
    "learning": [
        "skillratingsnapshot",
        "skillrating",
        "learnerplan",
        "taskcompletion",
        "learnercard",
        "reviewlogentry",
        "problemsolve",
    ],
    "interviews": ["mockattempt", "mockanswer"],
}
AT = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _write_history(apps) -> dict[str, int]:
    """A learner's history, written with the models as they were before the split."""
    get = apps.get_model
    user = get("auth", "User").objects.create(username="ada", password="!")
    chapter = get("quizbank", "Chapter").objects.get()
    skill = get("quizbank", "Skill").objects.filter(chapter=chapter).first()
    item = get("quizbank", "Item").objects.filter(chapter=chapter).first()
    problem = get("quizbank", "Problem").objects.filter(chapter=chapter).first()
    task = get("quizbank", "ReviewTask").objects.filter(review_day__chapter=chapter).first()
    script = get("quizbank", "MockScript").objects.filter(chapter=chapter).first()
    step = get("quizbank", "MockStep").objects.filter(script=script).first()

    profile = get("quizbank", "LearnerProfile").objects.create(user=user, time_zone="Asia/Tokyo")
    token = get("grading", "ApiToken").objects.create(
        user=user, name="laptop", prefix="abcdefgh", key_hash="0" * 64
    )
    snapshot = get("quizbank", "SkillRatingSnapshot").objects.create(
        user=user, chapter=chapter, taken_at=AT
    )
    rating = get("quizbank", "SkillRating").objects.create(snapshot=snapshot, skill=skill, score=3)
    plan = get("quizbank", "LearnerPlan").objects.create(
        user=user, chapter=chapter, started_on=AT.date(), started_at=AT, time_zone="Asia/Tokyo"
    )
    completion = get("quizbank", "TaskCompletion").objects.create(
        plan=plan, task=task, completed_at=AT, how="manual"
    )
    card = get("quizbank", "LearnerCard").objects.create(
        user=user, item=item, state={"due": AT.isoformat()}, due=AT, reps=2,
        created_at=AT, updated_at=AT,
    )  # fmt: skip
    review = get("quizbank", "ReviewLogEntry").objects.create(
        user=user, item=item, rating=3, reviewed_at=AT, source="due", counted=True,
        answer={"x": 1},
    )  # fmt: skip
    solve = get("quizbank", "ProblemSolve").objects.create(
        user=user, problem=problem, solved_at=AT, hints_seen=1
    )
    submission = get("grading", "Submission").objects.create(
        user=user, exercise="se-block", code="x = 1", status="passed", score=1.0,
        passed=1, total=1,
    )  # fmt: skip
    result = get("grading", "TestResult").objects.create(
        submission=submission, order=0, name="output shape", category="shape", passed=True
    )
    attempt = get("quizbank", "MockAttempt").objects.create(
        user=user, script=script, started_at=AT, ended_at=AT, end_reason="submitted"
    )
    answer = get("quizbank", "MockAnswer").objects.create(
        attempt=attempt, step=step, text="identity shortcut", saved_at=AT
    )
    return {
        "user": user.pk, "profile": profile.pk, "token": token.pk, "snapshot": snapshot.pk,
        "rating": rating.pk, "plan": plan.pk, "completion": completion.pk, "card": card.pk,
        "review": review.pk, "solve": solve.pk, "submission": submission.pk,
        "result": result.pk, "attempt": attempt.pk, "answer": answer.pk, "task": task.pk,
        "item": item.pk, "step": step.pk,
    }  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_a_database_made_before_the_split_migrates_and_keeps_every_row():
    call_command("load_quizbank", str(FIXTURE), stdout=io.StringIO(), stderr=io.StringIO())
    _migrate(BEFORE + [(app, None) for app in NEW_APPS])
    try:
        recorded = connection.introspection.django_table_names()
        assert "quizbank_learnercard" in recorded and "grading_apitoken" in recorded
        old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
        ids = _write_history(old)
        # what staff were granted before the split is kept with its content type
        old_perm = Permission.objects.get(
            content_type__app_label="quizbank", codename="view_learnercard"
        )
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    assert LearnerProfile.objects.get(pk=ids["profile"]).time_zone == "Asia/Tokyo"
    assert ApiToken.objects.get(pk=ids["token"]).user_id == ids["user"]
    assert SkillRatingSnapshot.objects.get(pk=ids["snapshot"]).user_id == ids["user"]
    assert SkillRating.objects.get(pk=ids["rating"]).score == 3
    plan = LearnerPlan.objects.get(pk=ids["plan"])
    assert plan.user_id == ids["user"] and plan.active
    completion = TaskCompletion.objects.get(pk=ids["completion"])
    assert (completion.plan_id, completion.task_id) == (ids["plan"], ids["task"])
    card = LearnerCard.objects.get(pk=ids["card"])
    assert (card.item_id, card.reps) == (ids["item"], 2)
    assert ReviewLogEntry.objects.get(pk=ids["review"]).answer == {"x": 1}
    assert ProblemSolve.objects.get(pk=ids["solve"]).hints_seen == 1
    assert Submission.objects.get(pk=ids["submission"]).status == "passed"
    assert TestResult.objects.get(pk=ids["result"]).submission_id == ids["submission"]
    attempt = MockAttempt.objects.get(pk=ids["attempt"])
    assert attempt.user_id == ids["user"] and attempt.end_reason == "submitted"
    answer = MockAnswer.objects.get(pk=ids["answer"])
    assert (answer.attempt_id, answer.step_id, answer.text) == (
        ids["attempt"], ids["step"], "identity shortcut",
    )  # fmt: skip
    # the relations read through the new apps as well
    assert list(plan.completions.values_list("pk", flat=True)) == [ids["completion"]]
    assert list(attempt.answers.values_list("pk", flat=True)) == [ids["answer"]]

    # content types moved with their models: same ids, new labels, nothing left behind
    for app, models in MOVED.items():
        for model in models:
            assert ContentType.objects.filter(app_label=app, model=model).exists(), model
            assert not ContentType.objects.filter(model=model).exclude(app_label=app).exists()
    assert Permission.objects.get(pk=old_perm.pk).content_type.app_label == "learning"

    # new rows go on from the old ones (on Postgres the sequence stays with its table)
    newer = ReviewLogEntry.objects.create(
        user_id=ids["user"], item_id=ids["item"], rating=4, reviewed_at=AT, source="due",
        counted=True,
    )  # fmt: skip
    assert newer.pk > ids["review"]


@pytest.mark.django_db
def test_the_migrations_describe_the_models_exactly():
    """The moves changed Django's state by hand; a model that drifted from its migrations
    would make the next `makemigrations` write a migration that touches the tables."""
    out = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    assert "No changes detected" in out.getvalue()
