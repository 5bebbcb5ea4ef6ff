"""Writes of the self-assessment and the plan: rating skills, starting the plan, and
ticking its tasks as the learner does the work they name (by hand, by reviewing cards,
solving problems, passing exercises, finishing mocks).

Every function takes `now` so that tests can move the clock without patching time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q, QuerySet

from accounts.services import profile_get_or_create
from learning import scheduling
from learning.models import (
    LearnerPlan,
    ProblemSolve,
    ReviewLogEntry,
    SkillRating,
    SkillRatingSnapshot,
    TaskCompletion,
)
from learning.selectors.plan import PlanState
from learning.services.common import _now
from quizbank.models import Chapter, Item, Problem, ReviewTask, Skill


class PlanError(ValueError):
    """A plan action that is not allowed now (no active plan, a checkpoint not yet due)."""


@transaction.atomic
def skills_rate(
    *,
    user: AbstractBaseUser,
    chapter: Chapter,
    scores: dict[int, int],
    now: dt.datetime | None = None,
) -> SkillRatingSnapshot:
    """Store a dated snapshot of the learner's 1-5 scores; earlier snapshots stay."""
    skills = {s.pk: s for s in Skill.objects.filter(chapter=chapter, retired=False)}
    unknown = set(scores) - set(skills)
    if unknown:
        raise ValueError(f"skills not in this chapter: {sorted(unknown)}")
    if not scores:
        raise ValueError("rate at least one skill")
    for score in scores.values():
        if not 1 <= int(score) <= 5:
            raise ValueError(f"a score is 1 to 5, not {score}")
    snapshot = SkillRatingSnapshot.objects.create(user=user, chapter=chapter, taken_at=_now(now))
    SkillRating.objects.bulk_create(
        SkillRating(snapshot=snapshot, skill=skills[pk], score=int(score))
        for pk, score in scores.items()
    )
    return snapshot


@transaction.atomic
def plan_start(
    *, user: AbstractBaseUser, chapter: Chapter, now: dt.datetime | None = None
) -> LearnerPlan:
    """Start (or restart) the plan: Day 0 is today in the learner's zone.

    A running plan is deactivated, not deleted: its completions and every review stay.
    """
    at = _now(now)
    profile = profile_get_or_create(user=user)
    LearnerPlan.objects.filter(user=user, chapter=chapter, active=True).update(
        active=False, ended_at=at
    )
    return LearnerPlan.objects.create(
        user=user,
        chapter=chapter,
        started_on=scheduling.local_date(at=at, time_zone=profile.time_zone),
        started_at=at,
        time_zone=profile.time_zone,
        active=True,
    )


def _plan_today(plan: LearnerPlan, at: dt.datetime) -> dt.date:
    return scheduling.local_date(at=at, time_zone=plan.time_zone)


def _task_counts_from(plan: LearnerPlan, task: ReviewTask) -> dt.datetime:
    """Reviews count toward a checkpoint task from the later of its local midnight and the
    plan's start (so that a restart does not inherit the morning's reviews)."""
    checkpoint = scheduling.checkpoint_for(
        started_on=plan.started_on, day=task.review_day.day, time_zone=plan.time_zone
    )
    return max(checkpoint.starts_at, plan.started_at)


def _due_tasks(plan: LearnerPlan, at: dt.datetime) -> QuerySet[ReviewTask]:
    """Tasks of checkpoints that have come (date <= today), not yet completed."""
    today = _plan_today(plan, at)
    reached_days = (today - plan.started_on).days
    return (
        ReviewTask.objects.filter(
            review_day__chapter_id=plan.chapter_id,
            review_day__retired=False,
            review_day__day__lte=reached_days,
            retired=False,
        )
        .exclude(pk__in=plan.completions.values("task_id"))
        .select_related("review_day")
    )


def _complete(plan: LearnerPlan, task: ReviewTask, how: str, at: dt.datetime) -> TaskCompletion:
    completion, _ = TaskCompletion.objects.get_or_create(
        plan=plan, task=task, defaults={"completed_at": at, "how": how}
    )
    return completion


def _active_plan(user: AbstractBaseUser) -> LearnerPlan | None:
    return LearnerPlan.objects.filter(user=user, active=True).order_by("-started_at").first()


@transaction.atomic
def plan_task_confirm(
    *, plan: LearnerPlan, task: ReviewTask, now: dt.datetime | None = None
) -> TaskCompletion:
    """Tick a task by hand ("draw the blocks from memory"); the view asks for a confirmation."""
    at = _now(now)
    if not plan.active:
        raise PlanError("this plan was restarted; tick tasks in the current plan")
    if task.review_day.chapter_id != plan.chapter_id:
        raise PlanError("that task is not part of this plan")
    if plan.started_on + dt.timedelta(days=task.review_day.day) > _plan_today(plan, at):
        raise PlanError(f"Day {task.review_day.day} has not come yet")
    return _complete(plan, task, TaskCompletion.How.MANUAL, at)


def _tick_matching(
    user: AbstractBaseUser,
    at: dt.datetime,
    *where: Q,
    all_done: Callable[[LearnerPlan, ReviewTask], bool] | None = None,
    **task_filter: object,
) -> list[TaskCompletion]:
    """Tick every open task that names this work and whose day has come; if none has,
    the earliest later one: work done early counts (a mock finished on Day 0 ticks the
    Day 14 task that names it), but one piece of work never ticks two future days."""
    plan = _active_plan(user)
    if plan is None:
        return []

    def ready(tasks: QuerySet[ReviewTask]) -> list[ReviewTask]:
        tasks = tasks.filter(*where, **task_filter).distinct()
        ordered = tasks.order_by("review_day__day", "order")
        return [t for t in ordered if all_done is None or all_done(plan, t)]

    due = ready(_due_tasks(plan, at))
    if not due:
        due = ready(_open_tasks(plan))[:1]
    return [_complete(plan, task, TaskCompletion.How.AUTO, at) for task in due]


def _open_tasks(plan: LearnerPlan) -> QuerySet[ReviewTask]:
    """Every task of the plan not yet completed, whatever its day."""
    return ReviewTask.objects.filter(
        review_day__chapter_id=plan.chapter_id, review_day__retired=False, retired=False
    ).exclude(pk__in=plan.completions.values("task_id"))


@transaction.atomic
def plan_record_exercise_passed(
    *, user: AbstractBaseUser, exercise_slug: str, now: dt.datetime | None = None
) -> None:
    """Tick the active plan's exercise tasks for this exercise (see `_tick_matching`)."""

    def all_passed(plan: LearnerPlan, task: ReviewTask) -> bool:
        named = {e.slug for e in task.named_exercises()}
        return named <= _exercises_passed(user=user, since=plan.started_at) | {exercise_slug}

    _tick_matching(
        user,
        _now(now),
        Q(exercise__slug=exercise_slug) | Q(also_exercises__slug=exercise_slug),
        all_done=all_passed,
        kind=ReviewTask.Kind.EXERCISE,
    )


def _exercises_passed(*, user: AbstractBaseUser, since: dt.datetime) -> set[str]:
    """Slugs of the exercises the learner passed since `since`; the grading app keeps the
    submissions (looked up by name, so quizbank works without it)."""
    try:
        submission = apps.get_model("grading", "Submission")
    except LookupError:
        return set()
    return set(
        submission.objects.filter(
            user=user, status="passed", kind="submit", finished_at__gte=since
        ).values_list("exercise", flat=True)
    )


@transaction.atomic
def plan_record_mock_finished(
    *, user: AbstractBaseUser, mock_slug: str, now: dt.datetime | None = None
) -> None:
    """Tick the active plan's mock tasks for this mock script (see `_tick_matching`)."""
    _tick_matching(user, _now(now), kind=ReviewTask.Kind.MOCK, mock__slug=mock_slug)


@transaction.atomic
def problem_mark_solved(
    *,
    user: AbstractBaseUser,
    problem: Problem,
    hints_seen: int = 0,
    saw_solution: bool = False,
    now: dt.datetime | None = None,
) -> ProblemSolve:
    at = _now(now)
    solve = ProblemSolve.objects.create(
        user=user,
        problem=problem,
        solved_at=at,
        hints_seen=max(0, hints_seen),
        saw_solution=saw_solution,
    )

    def all_solved(plan: LearnerPlan, task: ReviewTask) -> bool:
        solved = set(
            ProblemSolve.objects.filter(user=user, solved_at__gte=plan.started_at).values_list(
                "problem_id", flat=True
            )
        )
        return {p.pk for p in task.named_problems()} <= solved

    _tick_matching(
        user,
        at,
        Q(problem=problem) | Q(also_problems=problem),
        all_done=all_solved,
        kind=ReviewTask.Kind.PROBLEM,
    )
    return solve


def _tick_item_tasks(
    user: AbstractBaseUser, item: Item, at: dt.datetime, state: PlanState | None = None
) -> None:
    """An items task is done once each of its items was reviewed since the task counts.

    With `state` (the plan as the answering page read it, just before this review) the
    rule is read from it, with this review added: no query unless a task is done. A
    review logged meanwhile in another tab is missing from it, so a task may be ticked
    one answer later, never too early (get_or_create keeps a tick made meanwhile)."""
    if state is not None:
        _tick_item_tasks_in(state, item, at)
        return
    plan = _active_plan(user)
    if plan is None:
        return
    for task in _due_tasks(plan, at).filter(kind=ReviewTask.Kind.ITEMS, items=item):
        since = _task_counts_from(plan, task)
        item_ids = set(task.items.filter(retired=False).values_list("pk", flat=True))
        reviewed = set(
            ReviewLogEntry.objects.filter(
                user=user, item_id__in=item_ids, reviewed_at__gte=since
            ).values_list("item_id", flat=True)
        )
        if item_ids and item_ids <= reviewed:
            _complete(plan, task, TaskCompletion.How.AUTO, at)


def _tick_item_tasks_in(state: PlanState, item: Item, at: dt.datetime) -> None:
    """_tick_item_tasks on a plan state; the state is updated (this review, the ticks)."""
    plan, last = state.plan, state.last_reviews
    last[item.pk] = max(last.get(item.pk, at), at)
    today = _plan_today(plan, at)
    for checkpoint in state.checkpoints:
        if checkpoint.date > today:
            continue
        for view in checkpoint.tasks:
            if view.completion or view.task.kind != ReviewTask.Kind.ITEMS:
                continue
            ids = {i.pk for i in view.items}
            if item.pk not in ids:
                continue
            since = checkpoint.counts_from
            if all(pk in last and last[pk] >= since for pk in ids):
                view.completion = _complete(plan, view.task, TaskCompletion.How.AUTO, at)
                view.status = "done"
