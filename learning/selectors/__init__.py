"""Reads of the learner's state: every query here is filtered by the learner.

Split by concern (common, skills, plan, queue, figures, giveaways); callers keep using
`selectors.<name>`. A page that needs the plan in several places reads it once
(`plan_state`) and passes it on, as it does the learner's zone and skill scores.
"""

from learning.selectors.common import _now, chapter_current, learner_today, time_zone_of
from learning.selectors.figures import (
    PartMastery,
    mastery_by_part,
    review_series,
    reviews_local_days,
    streak,
)
from learning.selectors.giveaways import item_gives_away, queue_without_giveaways
from learning.selectors.plan import (
    CalendarDay,
    CheckpointView,
    PlanState,
    TaskView,
    plan_active,
    plan_calendar,
    plan_checkpoints,
    plan_last_reviews,
    plan_state,
)
from learning.selectors.queue import (
    WEAK_SKILL_SCORE,
    QueueEntry,
    due_open_tasks,
    due_queue,
    plan_weak_skill_entries,
    practice_items,
)
from learning.selectors.skills import (
    Readiness,
    WeakSkill,
    skills_history,
    skills_latest_scores,
    skills_latest_snapshot,
    skills_of,
    skills_readiness,
    skills_weakest,
)

__all__ = [
    "WEAK_SKILL_SCORE",
    "CalendarDay",
    "CheckpointView",
    "PartMastery",
    "PlanState",
    "QueueEntry",
    "Readiness",
    "TaskView",
    "WeakSkill",
    "_now",
    "chapter_current",
    "due_open_tasks",
    "due_queue",
    "item_gives_away",
    "learner_today",
    "mastery_by_part",
    "plan_active",
    "plan_calendar",
    "plan_checkpoints",
    "plan_last_reviews",
    "plan_state",
    "plan_weak_skill_entries",
    "practice_items",
    "queue_without_giveaways",
    "review_series",
    "reviews_local_days",
    "skills_history",
    "skills_latest_scores",
    "skills_latest_snapshot",
    "skills_of",
    "skills_readiness",
    "skills_weakest",
    "streak",
    "time_zone_of",
]
