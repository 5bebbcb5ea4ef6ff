"""What the learner answers next: the due queue (checkpoint items, weak skills' items
brought forward, FSRS cards due) and the checkpoint tasks that are not about cards."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser

from learning.models import LearnerCard, LearnerPlan, SkillRating
from learning.selectors.common import _now
from learning.selectors.plan import (
    CheckpointView,
    PlanState,
    TaskView,
    plan_checkpoints,
    plan_last_reviews,
    plan_state,
)
from quizbank.models import Chapter, Item, Part, ReviewTask

# A page that has not read the plan yet passes nothing; one that has passes its state
# (None when the learner has no plan).
_UNREAD = object()


@dataclass
class QueueEntry:
    item: Item
    source: str  # "plan" or "due"
    task: ReviewTask | None = None
    card: LearnerCard | None = None


def due_queue(
    *,
    user: AbstractBaseUser,
    chapter: Chapter,
    now: dt.datetime | None = None,
    state: PlanState | None | object = _UNREAD,
) -> list[QueueEntry]:
    """Due checkpoint tasks' items not yet reviewed for that checkpoint come first, then
    FSRS cards due now; each item once. `state` (plan_state) may be passed when the page
    already read it."""
    at = _now(now)
    if state is _UNREAD:
        state = plan_state(user=user, chapter=chapter, now=at, named=False)
    entries: list[QueueEntry] = []
    seen: set[int] = set()
    if isinstance(state, PlanState):
        last = state.last_reviews
        for checkpoint in state.checkpoints:
            for view in checkpoint.tasks:
                if view.completion or view.status == "upcoming":
                    continue
                if view.task.kind != ReviewTask.Kind.ITEMS:
                    continue
                since = checkpoint.counts_from
                # Easy before hard within a task (sorted is stable: the authors' order
                # breaks ties).
                for item in sorted(view.items, key=lambda i: i.difficulty):
                    done = item.pk in last and last[item.pk] >= since
                    if not done and item.pk not in seen:
                        seen.add(item.pk)
                        entries.append(QueueEntry(item=item, source="plan", task=view.task))
        entries += plan_weak_skill_entries(
            user=user, plan=state.plan, now=at, seen=seen, state=state
        )
    cards = (
        LearnerCard.objects.filter(
            user=user, due__lte=at, item__retired=False, item__chapter=chapter
        )
        .select_related("item")
        .order_by("due", "pk")
    )
    for card in cards:
        if card.item_id not in seen:
            seen.add(card.item_id)
            entries.append(QueueEntry(item=card.item, source="due", card=card))
    return entries


def due_open_tasks(
    *,
    user: AbstractBaseUser,
    chapter: Chapter,
    now: dt.datetime | None = None,
    state: PlanState | None | object = _UNREAD,
) -> list[tuple[CheckpointView, TaskView]]:
    """Checkpoint tasks due (today or overdue) that are not about cards: problems,
    exercises, mocks, manual tasks."""
    if state is _UNREAD:
        state = plan_state(user=user, chapter=chapter, now=now, named=False)
    if not isinstance(state, PlanState):
        return []
    return [
        (checkpoint, view)
        for checkpoint in state.checkpoints
        for view in checkpoint.tasks
        if view.status in ("today", "overdue") and view.task.kind != ReviewTask.Kind.ITEMS
    ]


def practice_items(*, part: Part) -> list[Item]:
    """A part's active items for practice, easiest first (difficulty 1 recall, 2 explain or
    apply, 3 interview depth), then in the authors' order."""
    return list(part.items.filter(retired=False).order_by("difficulty", "order", "pk"))


# A self-assessment score at or below this marks a skill as weak: 1-2 map to Again
# (the self-assessment scale maps ratings 1-2 to Again), so these are the skills the learner says they cannot yet do.
WEAK_SKILL_SCORE = 2


def _weak_part_scores(*, user: AbstractBaseUser, chapter: Chapter) -> dict[int, int]:
    """part id -> the lowest latest score of a weak skill that practises it. One query:
    every rating of the learner with its skill's parts, oldest sitting first (the latest
    score of a skill wins, as in skills_latest_scores)."""
    latest: dict[int, int] = {}
    parts: dict[int, set[int]] = {}
    rows = (
        SkillRating.objects.filter(snapshot__user=user, snapshot__chapter=chapter)
        .order_by("snapshot__taken_at", "snapshot_id")
        .values_list("skill_id", "score", "skill__parts")
    )
    for skill_id, score, part_id in rows:
        latest[skill_id] = score
        if part_id is not None:
            parts.setdefault(skill_id, set()).add(part_id)
    part_score: dict[int, int] = {}
    for skill_id, score in latest.items():
        if score <= WEAK_SKILL_SCORE:
            for part_id in parts.get(skill_id, ()):
                part_score[part_id] = min(part_score.get(part_id, 99), score)
    return part_score


def plan_weak_skill_entries(
    *,
    user: AbstractBaseUser,
    plan: LearnerPlan,
    now: dt.datetime,
    seen: set[int],
    state: PlanState | None = None,
) -> list[QueueEntry]:
    """Items of later checkpoints that practise a weak skill, brought forward.

    The self-assessment feeds the plan: a skill rated 1 or 2 gets its items now instead of
    on their checkpoint day, weakest skill first, then easy before hard. They stay on their
    checkpoint too (a review there counts only from that day), so bringing them forward
    adds a spaced repetition rather than skipping one. Items reviewed since the plan began
    are not brought forward again. `seen` is updated.
    """
    part_score = _weak_part_scores(user=user, chapter=plan.chapter)
    if not part_score:
        return []
    if state is None:
        last = plan_last_reviews(plan=plan)
        state = PlanState(
            plan=plan,
            checkpoints=plan_checkpoints(plan=plan, now=now, last_reviews=last, named=False),
            last_reviews=last,
        )
    reviewed = state.last_reviews  # every item reviewed since the plan began
    candidates: list[tuple[int, int, int, QueueEntry]] = []
    for checkpoint in state.checkpoints:
        if checkpoint.status != "upcoming":
            continue
        for view in checkpoint.tasks:
            if view.task.kind != ReviewTask.Kind.ITEMS or view.completion:
                continue
            for item in view.items:
                score = part_score.get(item.part_id)
                if score is None or item.pk in seen or item.pk in reviewed:
                    continue
                seen.add(item.pk)
                entry = QueueEntry(item=item, source="plan", task=view.task)
                candidates.append((score, item.difficulty, len(candidates), entry))
    return [entry for *_, entry in sorted(candidates, key=lambda c: c[:3])]
