"""Reads of the learner's state: every query here is filtered by the learner."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Prefetch
from django.utils import timezone

from accounts.services import profile_get_or_create
from learning import scheduling
from learning.answers import format_number
from learning.models import (
    LearnerCard,
    LearnerPlan,
    ReviewLogEntry,
    SkillRatingSnapshot,
    TaskCompletion,
)
from quizbank.models import Chapter, Item, Part, ReviewDay, ReviewTask, Skill


def _now(now: dt.datetime | None) -> dt.datetime:
    return (now or timezone.now()).astimezone(dt.UTC)


def chapter_current() -> Chapter | None:
    """The chapter learners study (the product has one; the first live one by slug)."""
    return Chapter.objects.filter(retired=False).order_by("slug").first()


def time_zone_of(user: AbstractBaseUser) -> str:
    return profile_get_or_create(user=user).time_zone


def learner_today(*, user: AbstractBaseUser, now: dt.datetime | None = None) -> dt.date:
    return scheduling.local_date(at=_now(now), time_zone=time_zone_of(user))


# --- skills ------------------------------------------------------------------------------


def skills_of(chapter: Chapter) -> list[Skill]:
    return list(
        Skill.objects.filter(chapter=chapter, retired=False).prefetch_related(
            Prefetch("parts", queryset=Part.objects.filter(retired=False))
        )
    )


def skills_latest_snapshot(
    *, user: AbstractBaseUser, chapter: Chapter
) -> SkillRatingSnapshot | None:
    return (
        SkillRatingSnapshot.objects.filter(user=user, chapter=chapter)
        .order_by("-taken_at", "-pk")
        .prefetch_related("ratings")
        .first()
    )


def skills_latest_scores(*, user: AbstractBaseUser, chapter: Chapter) -> dict[int, int]:
    """skill id -> the latest score given (a skill missing from the last snapshot keeps the
    score from the snapshot before)."""
    scores: dict[int, int] = {}
    snapshots = SkillRatingSnapshot.objects.filter(user=user, chapter=chapter).order_by(
        "taken_at", "pk"
    )
    for snapshot in snapshots.prefetch_related("ratings"):
        for rating in snapshot.ratings.all():
            scores[rating.skill_id] = rating.score
    return scores


@dataclass
class Readiness:
    at_target: int
    total: int
    rated: int

    @property
    def percent(self) -> int:
        return round(100 * self.at_target / self.total) if self.total else 0


def skills_readiness(*, user: AbstractBaseUser, chapter: Chapter) -> Readiness:
    skills = [s.pk for s in Skill.objects.filter(chapter=chapter, retired=False)]
    scores = skills_latest_scores(user=user, chapter=chapter)
    return Readiness(
        at_target=sum(1 for pk in skills if scores.get(pk, 0) >= Skill.TARGET),
        total=len(skills),
        rated=sum(1 for pk in skills if pk in scores),
    )


@dataclass
class WeakSkill:
    skill: Skill
    score: int | None
    parts: list[Part]


def skills_weakest(*, user: AbstractBaseUser, chapter: Chapter, limit: int = 3) -> list[WeakSkill]:
    """Below-target skills, lowest first (unrated counts as lowest), with what practises them."""
    scores = skills_latest_scores(user=user, chapter=chapter)
    below = [s for s in skills_of(chapter) if scores.get(s.pk, 0) < Skill.TARGET]
    below.sort(key=lambda s: (scores.get(s.pk, 0), s.order))
    return [WeakSkill(skill=s, score=scores.get(s.pk), parts=list(s.parts.all())) for s in below][
        :limit
    ]


def skills_history(*, user: AbstractBaseUser, chapter: Chapter) -> dict:
    """For the charts: labels (local dates and times of each snapshot) and per skill its
    score at each snapshot (None where it was not rated)."""
    tz = scheduling.zone(time_zone_of(user))
    snapshots = list(
        SkillRatingSnapshot.objects.filter(user=user, chapter=chapter)
        .order_by("taken_at", "pk")
        .prefetch_related("ratings")
    )
    labels = [s.taken_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") for s in snapshots]
    series = []
    for skill in Skill.objects.filter(chapter=chapter, retired=False):
        points = []
        for snapshot in snapshots:
            score = next((r.score for r in snapshot.ratings.all() if r.skill_id == skill.pk), None)
            points.append(score)
        series.append({"skill": skill.title, "slug": skill.slug, "scores": points})
    return {"labels": labels, "series": series}


# --- plan --------------------------------------------------------------------------------


def plan_active(*, user: AbstractBaseUser, chapter: Chapter) -> LearnerPlan | None:
    return (
        LearnerPlan.objects.filter(user=user, chapter=chapter, active=True)
        .order_by("-started_at")
        .first()
    )


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

    @property
    def done_count(self) -> int:
        return sum(1 for t in self.tasks if t.completion)


def plan_checkpoints(*, plan: LearnerPlan, now: dt.datetime | None = None) -> list[CheckpointView]:
    at = _now(now)
    today = scheduling.local_date(at=at, time_zone=plan.time_zone)
    completions = {c.task_id: c for c in plan.completions.all()}
    days = ReviewDay.objects.filter(chapter=plan.chapter, retired=False).prefetch_related(
        Prefetch("tasks", queryset=ReviewTask.objects.filter(retired=False)),
        "tasks__items",
    )
    views = []
    for review_day in days:
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
                reviewed = (
                    ReviewLogEntry.objects.filter(
                        user_id=plan.user_id, item__in=items, reviewed_at__gte=since
                    )
                    .values("item_id")
                    .distinct()
                    .count()
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
            )
        )
    return views


@dataclass
class CalendarDay:
    day: int
    date: dt.date
    checkpoint: CheckpointView | None
    is_today: bool


def plan_calendar(*, plan: LearnerPlan, now: dt.datetime | None = None) -> list[CalendarDay]:
    """Day 0..21 of the plan, each with its checkpoint (if any) and status."""
    at = _now(now)
    today = scheduling.local_date(at=at, time_zone=plan.time_zone)
    checkpoints = {c.day: c for c in plan_checkpoints(plan=plan, now=at)}
    return [
        CalendarDay(
            day=n,
            date=plan.started_on + dt.timedelta(days=n),
            checkpoint=checkpoints.get(n),
            is_today=plan.started_on + dt.timedelta(days=n) == today,
        )
        for n in range(scheduling.PLAN_LENGTH_DAYS + 1)
    ]


# --- due queue ---------------------------------------------------------------------------


@dataclass
class QueueEntry:
    item: Item
    source: str  # "plan" or "due"
    task: ReviewTask | None = None
    card: LearnerCard | None = None


def due_queue(
    *, user: AbstractBaseUser, chapter: Chapter, now: dt.datetime | None = None
) -> list[QueueEntry]:
    """Due checkpoint tasks' items not yet reviewed for that checkpoint come first, then
    FSRS cards due now; each item once."""
    at = _now(now)
    entries: list[QueueEntry] = []
    seen: set[int] = set()
    plan = plan_active(user=user, chapter=chapter)
    if plan is not None:
        for checkpoint in plan_checkpoints(plan=plan, now=at):
            for view in checkpoint.tasks:
                if view.completion or view.status == "upcoming":
                    continue
                if view.task.kind != ReviewTask.Kind.ITEMS:
                    continue
                since = max(
                    scheduling.checkpoint_for(
                        started_on=plan.started_on, day=checkpoint.day, time_zone=plan.time_zone
                    ).starts_at,
                    plan.started_at,
                )
                done_ids = set(
                    ReviewLogEntry.objects.filter(
                        user=user, item__in=view.items, reviewed_at__gte=since
                    ).values_list("item_id", flat=True)
                )
                # Easy before hard within a task (sorted is stable: the authors' order
                # breaks ties).
                for item in sorted(view.items, key=lambda i: i.difficulty):
                    if item.pk not in done_ids and item.pk not in seen:
                        seen.add(item.pk)
                        entries.append(QueueEntry(item=item, source="plan", task=view.task))
        entries += plan_weak_skill_entries(user=user, plan=plan, now=at, seen=seen)
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
    *, user: AbstractBaseUser, chapter: Chapter, now: dt.datetime | None = None
) -> list[tuple[CheckpointView, TaskView]]:
    """Checkpoint tasks due (today or overdue) that are not about cards: problems,
    exercises, mocks, manual tasks."""
    plan = plan_active(user=user, chapter=chapter)
    if plan is None:
        return []
    return [
        (checkpoint, view)
        for checkpoint in plan_checkpoints(plan=plan, now=now)
        for view in checkpoint.tasks
        if view.status in ("today", "overdue") and view.task.kind != ReviewTask.Kind.ITEMS
    ]


# --- dashboard figures -------------------------------------------------------------------


def reviews_local_days(*, user: AbstractBaseUser) -> dict[dt.date, list[int]]:
    """Local date -> the ratings given that day."""
    tz = time_zone_of(user)
    days: dict[dt.date, list[int]] = defaultdict(list)
    for reviewed_at, rating in ReviewLogEntry.objects.filter(user=user).values_list(
        "reviewed_at", "rating"
    ):
        days[scheduling.local_date(at=reviewed_at, time_zone=tz)].append(rating)
    return days


def streak(*, user: AbstractBaseUser, now: dt.datetime | None = None) -> int:
    days = reviews_local_days(user=user)
    return scheduling.streak_days(review_days=set(days), today=learner_today(user=user, now=now))


def review_series(
    *, user: AbstractBaseUser, days: int = 30, now: dt.datetime | None = None
) -> dict:
    """Per local day over the last `days` days: reviews done, and retention (share of
    reviews not rated Again; None on a day without reviews)."""
    today = learner_today(user=user, now=now)
    by_day = reviews_local_days(user=user)
    labels, counts, retention = [], [], []
    for offset in range(days - 1, -1, -1):
        day = today - dt.timedelta(days=offset)
        ratings = by_day.get(day, [])
        labels.append(day.isoformat())
        counts.append(len(ratings))
        retention.append(
            round(100 * sum(1 for r in ratings if r != 1) / len(ratings), 1) if ratings else None
        )
    return {"labels": labels, "reviews": counts, "retention": retention}


@dataclass
class PartMastery:
    part: Part
    items: int
    mastered: int

    @property
    def percent(self) -> int:
        return round(100 * self.mastered / self.items) if self.items else 0


def mastery_by_part(*, user: AbstractBaseUser, chapter: Chapter) -> list[PartMastery]:
    """Share of each part's items whose latest review was rated Good or Easy."""
    latest: dict[int, int] = {}
    for item_id, rating in (
        ReviewLogEntry.objects.filter(user=user, item__chapter=chapter)
        .order_by("reviewed_at", "pk")
        .values_list("item_id", "rating")
    ):
        latest[item_id] = rating
    result = []
    for part in Part.objects.filter(chapter=chapter, retired=False):
        item_ids = list(part.items.filter(retired=False).values_list("pk", flat=True))
        mastered = sum(1 for pk in item_ids if latest.get(pk, 0) >= ReviewLogEntry.Rating.GOOD)
        result.append(PartMastery(part=part, items=len(item_ids), mastered=mastered))
    return result


def practice_items(*, part: Part) -> list[Item]:
    """A part's active items for practice, easiest first (difficulty 1 recall, 2 explain or
    apply, 3 interview depth), then in the authors' order."""
    return list(part.items.filter(retired=False).order_by("difficulty", "order", "pk"))


# A self-assessment score at or below this marks a skill as weak: 1-2 map to Again
# (DESIGN.md section 6), so these are the skills the learner says they cannot yet do.
WEAK_SKILL_SCORE = 2


def plan_weak_skill_entries(
    *, user: AbstractBaseUser, plan: LearnerPlan, now: dt.datetime, seen: set[int]
) -> list[QueueEntry]:
    """Items of later checkpoints that practise a weak skill, brought forward.

    The self-assessment feeds the plan: a skill rated 1 or 2 gets its items now instead of
    on their checkpoint day, weakest skill first, then easy before hard. They stay on their
    checkpoint too (a review there counts only from that day), so bringing them forward
    adds a spaced repetition rather than skipping one. Items reviewed since the plan began
    are not brought forward again. `seen` is updated.
    """
    scores = skills_latest_scores(user=user, chapter=plan.chapter)
    weak = {skill_id: score for skill_id, score in scores.items() if score <= WEAK_SKILL_SCORE}
    if not weak:
        return []
    part_score: dict[int, int] = {}
    for skill in Skill.objects.filter(pk__in=weak).prefetch_related("parts"):
        for part in skill.parts.all():
            part_score[part.pk] = min(part_score.get(part.pk, 99), weak[skill.pk])
    reviewed = set(
        ReviewLogEntry.objects.filter(user=user, reviewed_at__gte=plan.started_at).values_list(
            "item_id", flat=True
        )
    )
    candidates: list[tuple[int, int, int, QueueEntry]] = []
    for checkpoint in plan_checkpoints(plan=plan, now=now):
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


# --- giveaways within a sitting -----------------------------------------------------------


def _number_spellings(value: float) -> set[str]:
    """The ways a figure is usually written in an explanation (25,557,032; 25.6M; 25.6
    million; 4.09 billion), to find it in another card's answer."""
    spellings = {format_number(value), f"{value:g}"}
    for scale, words in ((1e9, ("B", " billion", "G")), (1e6, ("M", " million"))):
        if abs(value) >= scale:
            for digits in (2, 3):
                short = f"{value / scale:.{digits}g}"
                spellings |= {short + word for word in words}
    return {s for s in spellings if len(s.strip("0.,")) >= 2}


def _answer_side_text(item: Item) -> str:
    """Everything shown once a card is answered: explanation, model answer, every option
    with its reason, rubric points and traps."""
    pieces = [item.explanation, item.model_answer]
    for choice in item.choices.all():
        pieces += [choice.text, choice.why]
    pieces += [point.text for point in item.rubric.all()]
    for trap in item.traps or []:
        pieces += [str(trap.get("phrase", "")), str(trap.get("why", ""))]
    return " ".join(p for p in pieces if p).lower()


def _asked_answers(asked: Item) -> list[str]:
    """The strings whose presence in another card's answer gives `asked` away: its figure
    for a number card, a right option's text (long enough to mean something) for a
    multiple choice; nothing for the other kinds."""
    if asked.kind == Item.Kind.NUMERIC and asked.answer_number is not None:
        return [s.lower() for s in _number_spellings(asked.answer_number)]
    if asked.kind == Item.Kind.MULTIPLE_CHOICE:
        return [c.text.lower() for c in asked.choices.all() if c.correct and len(c.text) >= 12]
    return []


def item_gives_away(*, shown: Item, asked: Item) -> bool:
    """Whether the answer side of `shown` contains the answer `asked` expects."""
    if shown.pk == asked.pk:
        return False
    text = _answer_side_text(shown)
    return any(answer in text for answer in _asked_answers(asked))


def queue_without_giveaways(*, queue: list[QueueEntry], answered: list[Item]) -> list[QueueEntry]:
    """The same entries, those whose answer a card answered in this sitting has shown
    moved to the end (stable), so the next card is never one just given away."""
    if not answered:
        return queue
    shown = [(a.pk, _answer_side_text(a)) for a in answered]
    given_ids = set()
    for entry in queue:
        answers = _asked_answers(entry.item)
        if any(pk != entry.item.pk and any(x in text for x in answers) for pk, text in shown):
            given_ids.add(id(entry))
    return [e for e in queue if id(e) not in given_ids] + [e for e in queue if id(e) in given_ids]
