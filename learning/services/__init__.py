"""Writes of the learning app. Keyword-only, typed; views and commands call these.

Split by concern: plan (the self-assessment, the plan and its ticks) and reviews (answers
and the FSRS cards they move); callers keep using `services.<name>`."""

from learning.services.plan import (
    PlanError,
    plan_record_exercise_passed,
    plan_record_mock_finished,
    plan_start,
    plan_task_confirm,
    problem_mark_solved,
    skills_rate,
)
from learning.services.reviews import StaleAnswer, card_version, review_record, review_rerate

__all__ = [
    "PlanError",
    "StaleAnswer",
    "card_version",
    "plan_record_exercise_passed",
    "plan_record_mock_finished",
    "plan_start",
    "plan_task_confirm",
    "problem_mark_solved",
    "review_record",
    "review_rerate",
    "skills_rate",
]
