"""The self-assessment: latest scores, readiness, the weakest skills, the history."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Prefetch

from learning import scheduling
from learning.models import SkillRating, SkillRatingSnapshot
from learning.selectors.common import time_zone_of
from quizbank.models import Chapter, Part, Skill


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
    score from the snapshot before). One query: every rating, oldest sitting first."""
    rows = (
        SkillRating.objects.filter(snapshot__user=user, snapshot__chapter=chapter)
        .order_by("snapshot__taken_at", "snapshot_id")
        .values_list("skill_id", "score")
    )
    return dict(rows)


@dataclass
class Readiness:
    at_target: int
    total: int
    rated: int

    @property
    def percent(self) -> int:
        return round(100 * self.at_target / self.total) if self.total else 0


def skills_readiness(
    *,
    user: AbstractBaseUser,
    chapter: Chapter,
    skills: list[Skill] | None = None,
    scores: dict[int, int] | None = None,
) -> Readiness:
    """`skills` and `scores` may be passed when the page already read them."""
    ids = [s.pk for s in (skills if skills is not None else skills_of(chapter))]
    if scores is None:
        scores = skills_latest_scores(user=user, chapter=chapter)
    return Readiness(
        at_target=sum(1 for pk in ids if scores.get(pk, 0) >= Skill.TARGET),
        total=len(ids),
        rated=sum(1 for pk in ids if pk in scores),
    )


@dataclass
class WeakSkill:
    skill: Skill
    score: int | None
    parts: list[Part]


def skills_weakest(
    *,
    user: AbstractBaseUser,
    chapter: Chapter,
    limit: int = 3,
    skills: list[Skill] | None = None,
    scores: dict[int, int] | None = None,
) -> list[WeakSkill]:
    """Below-target skills, lowest first (unrated counts as lowest), with what practises them."""
    if scores is None:
        scores = skills_latest_scores(user=user, chapter=chapter)
    if skills is None:
        skills = skills_of(chapter)
    below = [s for s in skills if scores.get(s.pk, 0) < Skill.TARGET]
    below.sort(key=lambda s: (scores.get(s.pk, 0), s.order))
    return [WeakSkill(skill=s, score=scores.get(s.pk), parts=list(s.parts.all())) for s in below][
        :limit
    ]


def skills_history(
    *,
    user: AbstractBaseUser,
    chapter: Chapter,
    skills: list[Skill] | None = None,
    time_zone: str | None = None,
) -> dict:
    """For the charts: labels (local dates and times of each snapshot) and per skill its
    score at each snapshot (None where it was not rated)."""
    tz = scheduling.zone(time_zone or time_zone_of(user))
    snapshots = list(
        SkillRatingSnapshot.objects.filter(user=user, chapter=chapter)
        .order_by("taken_at", "pk")
        .prefetch_related("ratings")
    )
    labels = [s.taken_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") for s in snapshots]
    scores = [{r.skill_id: r.score for r in snapshot.ratings.all()} for snapshot in snapshots]
    series = [
        {
            "skill": skill.title,
            "slug": skill.slug,
            "scores": [by_skill.get(skill.pk) for by_skill in scores],
        }
        for skill in (skills if skills is not None else skills_of(chapter))
    ]
    return {"labels": labels, "series": series}
