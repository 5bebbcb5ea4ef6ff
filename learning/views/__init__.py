"""Learner pages, one module per concern. Thin: they read through selectors, write
through services, and look up every learner-owned row with the learner in the filter
(another learner's id is a 404). learning/urls.py names them through this package."""

from learning.views.cards import card_detail, due, item_answer, review_rerate
from learning.views.dashboard import home
from learning.views.downloads import deck_apkg, plan_ics
from learning.views.plan import plan, plan_start, plan_task_confirm
from learning.views.practice import practice_index, practice_part, problem_detail, problem_solved
from learning.views.skills import skills_history, skills_rate, skills_snapshot

__all__ = [
    "card_detail",
    "deck_apkg",
    "due",
    "home",
    "item_answer",
    "plan",
    "plan_ics",
    "plan_start",
    "plan_task_confirm",
    "practice_index",
    "practice_part",
    "problem_detail",
    "problem_solved",
    "review_rerate",
    "skills_history",
    "skills_rate",
    "skills_snapshot",
]
