"""The mock history: every ended attempt of a learner, grouped by format (the script's
kind), with the figures the review page shows, so the trend of each format can be read.

Per attempt: questions answered, rubric points covered (the learner's own ticks, counted
as the review page counts them), and the mean of a peer interviewer's 1-4 scores when a
peer scored it. Reads only (a few queries whatever the number of attempts).
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser

from interviews.models import MockAnswer, MockAttempt
from quizbank.models import MockScript, MockStep, RubricPoint


@dataclass(frozen=True)
class AttemptPoint:
    attempt: MockAttempt
    answered: int
    questions: int
    points_covered: int
    points_total: int
    peer_scores: tuple[int, ...]

    @property
    def answered_percent(self) -> int | None:
        return round(100 * self.answered / self.questions) if self.questions else None

    @property
    def covered_percent(self) -> int | None:
        return round(100 * self.points_covered / self.points_total) if self.points_total else None

    @property
    def peer_mean(self) -> float | None:
        return round(sum(self.peer_scores) / len(self.peer_scores), 2) if self.peer_scores else None


@dataclass
class FormatHistory:
    kind: str
    label: str
    points: list[AttemptPoint] = field(default_factory=list)  # oldest first

    @property
    def change(self) -> int | None:
        """Rubric coverage of the latest attempt minus the first's (points of percent)."""
        scored = [p.covered_percent for p in self.points if p.covered_percent is not None]
        return scored[-1] - scored[0] if len(scored) >= 2 else None

    @property
    def change_size(self) -> int | None:
        return abs(self.change) if self.change is not None else None

    def as_chart(self, *, time_zone: str) -> dict:
        zone = zoneinfo.ZoneInfo(time_zone)
        return {
            "kind": self.kind,
            "labels": [
                p.attempt.started_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
                for p in self.points
            ],
            "scripts": [p.attempt.script.title for p in self.points],
            "covered": [p.covered_percent for p in self.points],
            "answered": [p.answered_percent for p in self.points],
            "peer": [p.peer_mean for p in self.points],
        }


def mock_history(*, user: AbstractBaseUser) -> list[FormatHistory]:
    """Ended attempts per format, in the order the formats are declared; formats without
    an ended attempt are left out."""
    attempts = list(
        MockAttempt.objects.filter(user=user, ended_at__isnull=False)
        .select_related("script")
        .order_by("started_at", "pk")
    )
    if not attempts:
        return []
    script_ids = {a.script_id for a in attempts}
    steps_of: dict[int, list[MockStep]] = defaultdict(list)
    for step in MockStep.objects.filter(script_id__in=script_ids).order_by("order", "pk"):
        steps_of[step.script_id].append(step)
    item_ids = {s.item_id for steps in steps_of.values() for s in steps if s.item_id}
    rubric_of: dict[int, set[int]] = defaultdict(set)
    for item_id, point_id in RubricPoint.objects.filter(item_id__in=item_ids).values_list(
        "item_id", "pk"
    ):
        rubric_of[item_id].add(point_id)
    answers: dict[int, dict[int, dict]] = defaultdict(dict)
    for row in MockAnswer.objects.filter(attempt__in=attempts).values(
        "attempt_id", "step_id", "text", "rubric_ticked", "interviewer_score"
    ):
        answers[row["attempt_id"]][row["step_id"]] = row

    by_kind: dict[str, FormatHistory] = {}
    for attempt in attempts:
        steps = steps_of[attempt.script_id]
        given = answers[attempt.pk]
        covered = total = answered = 0
        peer: list[int] = []
        for step in steps:
            row = given.get(step.pk)
            rubric = rubric_of.get(step.item_id, set()) if step.item_id else set()
            total += len(rubric)
            if row is None:
                continue
            answered += bool((row["text"] or "").strip())
            covered += len(rubric & set(row["rubric_ticked"] or []))
            if row["interviewer_score"]:
                peer.append(row["interviewer_score"])
        kind = attempt.script.kind
        history = by_kind.setdefault(
            kind, FormatHistory(kind=kind, label=MockScript.Kind(kind).label)
        )
        history.points.append(
            AttemptPoint(
                attempt=attempt,
                answered=answered,
                questions=len(steps),
                points_covered=covered,
                points_total=total,
                peer_scores=tuple(peer),
            )
        )
    order = [kind for kind, _ in MockScript.Kind.choices]
    return sorted(by_kind.values(), key=lambda h: order.index(h.kind) if h.kind in order else 99)
