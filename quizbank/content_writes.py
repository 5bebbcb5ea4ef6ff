"""Writing one validated chapter's rows: upsert by slug, children in place, retire the rest.

An entry whose content hash is unchanged is not written; a changed one is updated in
place, its choices, rubric points and hints rewritten by position, so the ids learners'
rows hold keep meaning the same thing; a row the files no longer contain is marked
`retired`, never deleted. `quizbank.loader` validates everything first and calls these
inside one transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Manager, Model, ProtectedError, QuerySet

from quizbank.content_source import ContentError
from quizbank.content_validation import Plan
from quizbank.models import (
    Chapter,
    Choice,
    ExerciseStatement,
    Hint,
    Item,
    MockScript,
    MockStep,
    Part,
    Problem,
    ReviewDay,
    ReviewTask,
    RubricPoint,
    Skill,
)

KINDS = ("parts", "skills", "items", "problems", "exercises", "mocks", "days", "tasks")


@dataclass
class LoadReport:
    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {
            kind: {"created": 0, "updated": 0, "unchanged": 0, "retired": 0} for kind in KINDS
        }
    )
    chapters: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, kind: str, outcome: str, n: int = 1) -> None:
        self.counts[kind][outcome] += n

    def lines(self) -> list[str]:
        return [
            f"{kind}: created {c['created']}, updated {c['updated']}, "
            f"unchanged {c['unchanged']}, retired {c['retired']}"
            for kind, c in self.counts.items()
        ]

    @property
    def written(self) -> int:
        return sum(c["created"] + c["updated"] + c["retired"] for c in self.counts.values())


def content_digest(row: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()


def _retire(queryset: QuerySet, keep: Iterable[str], report: LoadReport, kind: str) -> None:
    stale = queryset.filter(retired=False).exclude(slug__in=list(keep))
    report.add(kind, "retired", stale.update(retired=True))


def _upsert_hashed(
    *,
    model: type[Model],
    existing: Model | None,
    chapter: Chapter,
    slug: str,
    values: dict[str, Any],
    report: LoadReport,
    kind: str,
) -> tuple[Model, bool]:
    """Create or update one entry; an unchanged content hash writes nothing.

    Returns the row and whether it was written (its children need syncing only then).
    """
    if (
        existing is not None
        and existing.content_hash == values["content_hash"]
        and not existing.retired
    ):
        report.add(kind, "unchanged")
        return existing, False
    if existing is None:
        report.add(kind, "created")
        return model.objects.create(chapter=chapter, slug=slug, **values), True
    _save_fields(existing, values)
    existing.save()
    report.add(kind, "updated")
    return existing, True


def _save_fields(row: Model, values: dict[str, Any]) -> bool:
    """Set `values` on a model instance; True when any of them changed."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def write_parts(chapter: Chapter, plan: Plan, report: LoadReport) -> dict[str, Part]:
    existing = {part.slug: part for part in Part.objects.filter(chapter=chapter)}
    result = {}
    for slug, row in plan.parts.items():
        values = {"title": row["title"], "order": row["order"], "retired": False}
        part = existing.get(slug)
        if part is None:
            part = Part.objects.create(chapter=chapter, slug=slug, **values)
            report.add("parts", "created")
        elif _save_fields(part, values):
            part.save()
            report.add("parts", "updated")
        else:
            report.add("parts", "unchanged")
        result[slug] = part
    _retire(Part.objects.filter(chapter=chapter), plan.parts, report, "parts")
    return result


def _sync_children(
    manager: Manager, model: type[Model], rows: list[dict[str, Any]], parent: dict[str, Any]
) -> None:
    """Rewrite an entry's children in place by position: ids stay put where rows remain."""
    existing = list(manager.order_by("order", "pk"))
    for order, values in enumerate(rows):
        values = {**values, "order": order}
        if order < len(existing):
            child = existing[order]
            if _save_fields(child, values):
                child.save()
        else:
            model.objects.create(**parent, **values)
    for child in existing[len(rows) :]:
        child.delete()


def write_items(
    chapter: Chapter, plan: Plan, parts: dict[str, Part], report: LoadReport
) -> dict[str, Item]:
    existing = {item.slug: item for item in Item.objects.filter(chapter=chapter)}
    result = {}
    for slug, row in plan.items.items():
        digest = content_digest(row)
        values = {
            "part": parts[row["part"]],
            "kind": row["kind"],
            "prompt": row["prompt"],
            "explanation": row["explanation"],
            "cheat_sheet": row["cheat_sheet"],
            "difficulty": row["difficulty"],
            "order": row["order"],
            "tags": row["tags"],
            "answer_number": row["answer_number"],
            "tolerance": row["tolerance"],
            "tolerance_mode": row["tolerance_mode"],
            "unit": row["unit"],
            "protocol": row["protocol"],
            "model_answer": row["model_answer"],
            "traps": row["traps"],
            "accepted_orders": row["accepted_orders"],
            "content_hash": digest,
            "retired": False,
        }
        item, written = _upsert_hashed(model=Item, existing=existing.get(slug), chapter=chapter,
                                       slug=slug, values=values, report=report, kind="items")  # fmt: skip
        result[slug] = item
        if written:
            _sync_children(item.choices, Choice, row["choices"], {"item": item})
            _sync_children(item.rubric, RubricPoint, row["rubric"], {"item": item})
    _retire(Item.objects.filter(chapter=chapter), plan.items, report, "items")
    return result


def write_simple(
    chapter: Chapter,
    rows: dict[str, dict[str, Any]],
    model: type[Problem] | type[ExerciseStatement],
    parts: dict[str, Part],
    report: LoadReport,
    kind: str,
) -> dict[str, Problem | ExerciseStatement]:
    existing = {row.slug: row for row in model.objects.filter(chapter=chapter)}
    result = {}
    for slug, row in rows.items():
        digest = content_digest(row)
        values = {
            "part": parts[row["part"]],
            "title": row["title"],
            "statement": row["statement"],
            "order": row["order"],
            "content_hash": digest,
            "retired": False,
        }
        if model is Problem:
            values["solution"] = row["solution"]
        obj, written = _upsert_hashed(model=model, existing=existing.get(slug), chapter=chapter,
                                      slug=slug, values=values, report=report, kind=kind)  # fmt: skip
        result[slug] = obj
        if written and model is Problem:
            hints = [{"text": text} for text in row["hints"]]
            _sync_children(obj.hints, Hint, hints, {"problem": obj})
    _retire(model.objects.filter(chapter=chapter), rows, report, kind)
    return result


def write_mocks(
    chapter: Chapter,
    plan: Plan,
    items: dict[str, Item],
    exercises: dict[str, ExerciseStatement],
    report: LoadReport,
) -> dict[str, MockScript]:
    existing = {mock.slug: mock for mock in MockScript.objects.filter(chapter=chapter)}
    result = {}
    for slug, row in plan.mocks.items():
        digest = content_digest(row)
        values = {
            "title": row["title"],
            "kind": row["kind"],
            "intro": row["intro"],
            "duration_s": row["duration_s"],
            "order": row["order"],
            "content_hash": digest,
            "retired": False,
        }
        mock, written = _upsert_hashed(model=MockScript, existing=existing.get(slug),
                                       chapter=chapter, slug=slug, values=values, report=report,
                                       kind="mocks")  # fmt: skip
        result[slug] = mock
        if not written:
            continue
        steps = [
            {
                "item": items[step["item"]] if step["item"] else None,
                "exercise": exercises[step["exercise"]] if step["exercise"] else None,
                "interviewer_note": step["note"],
            }
            for step in row["steps"]
        ]
        _sync_mock_steps(mock, steps, plan)
    _retire(MockScript.objects.filter(chapter=chapter), plan.mocks, report, "mocks")
    return result


def _sync_mock_steps(mock: MockScript, rows: list[dict[str, Any]], plan: Plan) -> None:
    """Keep each step row tied to its question: learners' mock answers point at steps.

    A step is matched by what it asks (item or exercise), not by position, so a
    reordered script does not re-point old answers at other questions. A step that
    has answers cannot be dropped (MockStep has no `retired` flag): that is refused.
    """
    unused = list(mock.steps.order_by("order", "pk"))
    for order, values in enumerate(rows):
        match = next(
            (
                step
                for step in unused
                if step.item_id == (values["item"].pk if values["item"] else None)
                and step.exercise_id == (values["exercise"].pk if values["exercise"] else None)
            ),
            None,
        )
        if match is None:
            MockStep.objects.create(script=mock, order=order, **values)
            continue
        unused.remove(match)
        if _save_fields(match, {**values, "order": order}):
            match.save()
    for step in unused:
        try:
            with transaction.atomic():
                step.delete()
        except ProtectedError as error:
            raise ContentError(
                plan.folder,
                mock.slug,
                "steps",
                f"step {step.order + 1} ({step.item or step.exercise}) has learners' answers "
                "and cannot be removed; keep it in the script",
                entity="mock",
            ) from error


def write_skills(chapter: Chapter, plan: Plan, parts: dict[str, Part], report: LoadReport) -> None:
    existing = {
        skill.slug: skill
        for skill in Skill.objects.filter(chapter=chapter).prefetch_related("parts")
    }
    for slug, row in plan.skills.items():
        values = {
            "title": row["title"],
            "description": row["description"],
            "order": row["order"],
            "retired": False,
        }
        wanted_parts = {parts[name].pk for name in row["parts"]}
        skill = existing.get(slug)
        if skill is None:
            skill = Skill.objects.create(chapter=chapter, slug=slug, **values)
            skill.parts.set(wanted_parts)
            report.add("skills", "created")
            continue
        changed = _save_fields(skill, values)
        if changed:
            skill.save()
        if {part.pk for part in skill.parts.all()} != wanted_parts:
            skill.parts.set(wanted_parts)
            changed = True
        report.add("skills", "updated" if changed else "unchanged")
    _retire(Skill.objects.filter(chapter=chapter), plan.skills, report, "skills")


def write_days(
    chapter: Chapter,
    plan: Plan,
    items: dict[str, Item],
    problems: dict[str, Problem],
    exercises: dict[str, ExerciseStatement],
    mocks: dict[str, MockScript],
    report: LoadReport,
) -> None:
    existing = {day.day: day for day in ReviewDay.objects.filter(chapter=chapter)}
    for number, row in plan.days.items():
        values = {"title": row["title"], "retired": False}
        day = existing.get(number)
        if day is None:
            day = ReviewDay.objects.create(chapter=chapter, day=number, **values)
            report.add("days", "created")
        elif _save_fields(day, values):
            day.save()
            report.add("days", "updated")
        else:
            report.add("days", "unchanged")
        _write_tasks(day, row["tasks"], items, problems, exercises, mocks, report)
    stale_days = ReviewDay.objects.filter(chapter=chapter, retired=False).exclude(
        day__in=list(plan.days)
    )
    for day in stale_days:
        _retire(day.tasks.all(), [], report, "tasks")
    report.add("days", "retired", stale_days.update(retired=True))


def _write_tasks(
    day: ReviewDay,
    rows: list[dict[str, Any]],
    items: dict[str, Item],
    problems: dict[str, Problem],
    exercises: dict[str, ExerciseStatement],
    mocks: dict[str, MockScript],
    report: LoadReport,
) -> None:
    existing = {task.slug: task for task in day.tasks.prefetch_related("items")}
    for order, row in enumerate(rows):
        values = {
            "title": row["title"],
            "order": order,
            "kind": row["kind"],
            "problem": problems[row["problem"]] if row["problem"] else None,
            "exercise": exercises[row["exercise"]] if row["exercise"] else None,
            "mock": mocks[row["mock"]] if row["mock"] else None,
            "retired": False,
        }
        wanted_items = {items[slug].pk for slug in row["items"]}
        wanted_problems = {problems[slug].pk for slug in row["also_problems"]}
        wanted_exercises = {exercises[slug].pk for slug in row["also_exercises"]}
        task = existing.get(row["slug"])
        if task is None:
            task = ReviewTask.objects.create(review_day=day, slug=row["slug"], **values)
            task.items.set(wanted_items)
            task.also_problems.set(wanted_problems)
            task.also_exercises.set(wanted_exercises)
            report.add("tasks", "created")
            continue
        changed = _save_fields(task, values)
        if changed:
            task.save()
        for relation, wanted in (
            (task.items, wanted_items),
            (task.also_problems, wanted_problems),
            (task.also_exercises, wanted_exercises),
        ):
            if {row_.pk for row_ in relation.all()} != wanted:
                relation.set(wanted)
                changed = True
        report.add("tasks", "updated" if changed else "unchanged")
    _retire(day.tasks.all(), [row["slug"] for row in rows], report, "tasks")
