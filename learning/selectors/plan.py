"""The learner's Day 0-21 plan: its checkpoints with their tasks' progress, the calendar.

A page that shows the plan in several places (the dashboard's calendar, its due counts,
the queue) reads it once with `plan_state` and hands the result around: the checkpoints
are built from a fixed number of queries whatever the number of tasks, the reviews that count toward
them from one aggregate (each item's latest review since the plan began).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Max, Prefetch

from learning import scheduling
from learning.models import LearnerPlan, ReviewLogEntry, TaskCompletion
from learning.selectors.common import _now
from quizbank.models import Chapter, Item, ReviewDay, ReviewTask


def plan_active(*, user: AbstractBaseUser, chapter: Chapter) -> LearnerPlan | None:
    plan = (
        LearnerPlan.objects.filter(user=user, chapter=chapter, active=True)
        .order_by("-started_at")
        .first()
    )
    if plan is not None:
        plan.chapter = chapter  # the row the filter named: no second look-up
    return plan


@dataclass
class TaskView:
    task: ReviewTask
    completion: TaskCompletion | None
    status: str
    items: list[Item] = field(default_factory=list)
    items_reviewed: int = 0


@dataclass
class CheckpointView:
    day: int
    title: str
    date: dt.date
    status: str
    tasks: list[TaskView]
    # Reviews count toward this checkpoint from here: the later of its local midnight and
    # the plan's start (a restart does not inherit the morning's reviews).
    counts_from: dt.datetime | None = None

    @property
    def done_count(self) -> int:
        return sum(1 for t in self.tasks if t.completion)


def plan_last_reviews(*, plan: LearnerPlan) -> dict[int, dt.datetime]:
    """item id -> the learner's latest review of it since the plan began (one aggregate).

    An item was reviewed since any later moment exactly when this time is at or after it,
    so every checkpoint's progress is read from this one map."""
    rows = (
        ReviewLogEntry.objects.filter(user_id=plan.user_id, reviewed_at__gte=plan.started_at)
        .order_by()
        .values("item_id")
        .annotate(last=Max("reviewed_at"))
        .values_list("item_id", "last")
    )
    return dict(rows)


# The plan's structure is the same for every learner and changes only with the bank; it
# is read for every dashboard, queue and plan page (a few hundred rows in five to seven
# queries: half of those pages' time). Kept per process, keyed by the chapter's revision
# (quizbank/revision.py), which the request has read anyway: an edit anywhere shows on the
# next request of every process. The rows are shared between requests: read them only.
_STRUCTURE: dict[tuple, list[ReviewDay]] = {}


def review_days_forget() -> None:
    """Drop the kept structure (tests whose database is rebuilt under the same ids)."""
    _STRUCTURE.clear()


def _review_days(chapter: Chapter, *, named: bool) -> list[ReviewDay]:
    """The chapter's live days with their live tasks and the tasks' items (with their
    part, which the card's heading shows); `named` adds what the task lines name
    (ReviewTask.named_problems / named_exercises, the mock), for pages that show them."""
    key = (connection.settings_dict["NAME"], chapter.pk, chapter.revision, named)
    days = _STRUCTURE.get(key)
    if days is not None:
        return days
    tasks = ReviewTask.objects.filter(retired=False)
    lookups: list = [Prefetch("tasks__items", queryset=Item.objects.select_related("part"))]
    if named:
        tasks = tasks.select_related("problem", "exercise", "mock")
        lookups += ["tasks__also_problems", "tasks__also_exercises"]
    days = list(
        ReviewDay.objects.filter(chapter=chapter, retired=False).prefetch_related(
            Prefetch("tasks", queryset=tasks), *lookups
        )
    )
    # Only what is current is kept: an older revision is never asked for again.
    for old in [k for k in _STRUCTURE if k[:2] == key[:2] and k[2] != key[2]]:
        del _STRUCTURE[old]
    _STRUCTURE[key] = days
    return days


def plan_checkpoints(
    *,
    plan: LearnerPlan,
    now: dt.datetime | None = None,
    last_reviews: dict[int, dt.datetime] | None = None,
    named: bool = True,
) -> list[CheckpointView]:
    """Every checkpoint of the plan with its status and its tasks' progress; pass
    `last_reviews` (plan_last_reviews) when the page already read it, and named=False
    when the page does not show the task lines (see _review_days)."""
    at = _now(now)
    today = scheduling.local_date(at=at, time_zone=plan.time_zone)
    completions = {c.task_id: c for c in plan.completions.all()}
    if last_reviews is None:
        last_reviews = plan_last_reviews(plan=plan)
    views = []
    for review_day in _review_days(plan.chapter, named=named):
        checkpoint = scheduling.checkpoint_for(
            started_on=plan.started_on, day=review_day.day, time_zone=plan.time_zone
        )
        since = max(checkpoint.starts_at, plan.started_at)
        tasks = []
        for task in review_day.tasks.all():
            done = completions.get(task.pk)
            items = [i for i in task.items.all() if not i.retired]
            reviewed = 0
            if items and checkpoint.date <= today:
                reviewed = sum(
                    1 for i in items if i.pk in last_reviews and last_reviews[i.pk] >= since
                )
            tasks.append(
                TaskView(
                    task=task,
                    completion=done,
                    status=scheduling.checkpoint_status(
                        date=checkpoint.date, today=today, done=done is not None
                    ),
                    items=items,
                    items_reviewed=reviewed,
                )
            )
        all_done = bool(tasks) and all(t.completion for t in tasks)
        views.append(
            CheckpointView(
                day=review_day.day,
                title=review_day.title,
                date=checkpoint.date,
                status=scheduling.checkpoint_status(
                    date=checkpoint.date, today=today, done=all_done
                ),
                tasks=tasks,
                counts_from=since,
            )
        )
    return views


@dataclass
class PlanState:
    """What a request needs of the active plan, read once: the plan, its checkpoints and
    each item's latest review since the plan began."""

    plan: LearnerPlan
    checkpoints: list[CheckpointView]
    last_reviews: dict[int, dt.datetime]


def plan_state(
    *,
    user: AbstractBaseUser,
    chapter: Chapter,
    now: dt.datetime | None = None,
    named: bool = True,
) -> PlanState | None:
    """The active plan's state at `now`; None without a plan. named=False for a page that
    counts or queues the tasks without showing their lines."""
    plan = plan_active(user=user, chapter=chapter)
    if plan is None:
        return None
    last = plan_last_reviews(plan=plan)
    return PlanState(
        plan=plan,
        checkpoints=plan_checkpoints(plan=plan, now=now, last_reviews=last, named=named),
        last_reviews=last,
    )


@dataclass
class CalendarDay:
    day: int
    date: dt.date
    checkpoint: CheckpointView | None
    is_today: bool


def plan_calendar(
    *,
    plan: LearnerPlan,
    now: dt.datetime | None = None,
    checkpoints: list[CheckpointView] | None = None,
) -> list[CalendarDay]:
    """Day 0..21 of the plan, each with its checkpoint (if any) and status."""
    at = _now(now)
    today = scheduling.local_date(at=at, time_zone=plan.time_zone)
    if checkpoints is None:
        checkpoints = plan_checkpoints(plan=plan, now=at)
    by_day = {c.day: c for c in checkpoints}
    return [
        CalendarDay(
            day=n,
            date=plan.started_on + dt.timedelta(days=n),
            checkpoint=by_day.get(n),
            is_today=plan.started_on + dt.timedelta(days=n) == today,
        )
        for n in range(scheduling.PLAN_LENGTH_DAYS + 1)
    ]
