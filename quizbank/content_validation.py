"""Reading and validating a chapter folder of quiz-bank YAML (format: content/SCHEMA.md).

Everything is checked before the loader writes anything: structure and known fields,
slugs unique per kind across files, references (part, item, problem, exercise, mock),
kind-specific required fields, figure keys, and LaTeX rendered by KaTeX. Problems are
collected and raised together as ContentError (file, slug, field, message).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quizbank.content_checker import SLUG, Checker, is_known
from quizbank.content_items import validate_items
from quizbank.content_latex import LatexCheckUnavailable, latex_check, latex_spans
from quizbank.content_source import ContentError, Entry, Source, raise_all
from quizbank.models import MockScript, ReviewTask

PLAN_DAYS = (0, 3, 7, 14, 21)
TASKS_PER_DAY = 3
MIN_HINTS = 2
_MOCK_KINDS = {choice.value for choice in MockScript.Kind}
_TASK_KINDS = {choice.value for choice in ReviewTask.Kind}


# --- validation -----------------------------------------------------------------------


@dataclass
class Plan:
    """A validated chapter: rows ready to write, keyed by slug, in file order."""

    folder: Path
    chapter: dict[str, Any]
    parts: dict[str, dict[str, Any]]
    skills: dict[str, dict[str, Any]]
    items: dict[str, dict[str, Any]]
    problems: dict[str, dict[str, Any]]
    exercises: dict[str, dict[str, Any]]
    mocks: dict[str, dict[str, Any]]
    days: dict[int, dict[str, Any]]
    text_fields: list[tuple[Entry, str, str]]  # (entry, field path, text) for the LaTeX check


def content_validate(*, source: Source) -> Plan:
    """Check a chapter folder completely; raise ContentError listing every problem."""
    check = Checker()

    chapters = source.of("chapter")
    if not chapters:
        raise ContentError(source.folder, None, "chapter", "no 'chapter:' entry in this folder")
    for extra in chapters[1:]:
        check.error(extra, "chapter", f"a second 'chapter:' (first in {chapters[0].file.name})")
    chapter_entry = chapters[0]
    check.fields(chapter_entry, chapter_entry.data, {"slug", "title", "version", "summary"})
    check.slug(chapter_entry, {})
    chapter = {
        "slug": chapter_entry.data.get("slug"),
        "title": check.text(chapter_entry, chapter_entry.data, "title"),
        "version": str(chapter_entry.data.get("version") or ""),
        "summary": check.text(chapter_entry, chapter_entry.data, "summary", required=False),
    }
    if not chapter["version"]:
        check.error(chapter_entry, "version", "missing (required)")

    parts: dict[str, dict[str, Any]] = {}
    seen: dict[str, Entry] = {}
    for entry in source.of("part"):
        check.fields(entry, entry.data, {"slug", "title"})
        slug = check.slug(entry, seen)
        title = check.text(entry, entry.data, "title")
        if slug:
            parts[slug] = {"slug": slug, "title": title, "order": len(parts)}
    if not source.of("part"):
        check.error(chapter_entry, "parts", "the chapter declares no parts")

    items = validate_items(check, source, parts)
    problems = _validate_problems(check, source, parts)
    exercises = _validate_exercises(check, source, parts)
    mocks = _validate_mocks(check, source, items, exercises)
    skills = _validate_skills(check, source, parts)
    days = _validate_days(check, source, parts, items, problems, exercises, mocks)
    raise_all(check.errors)
    return Plan(
        folder=source.folder,
        chapter=chapter,
        parts=parts,
        skills=skills,
        items=items,
        problems=problems,
        exercises=exercises,
        mocks=mocks,
        days=days,
        text_fields=check.texts,
    )


def _validate_problems(
    check: Checker, source: Source, parts: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    problems: dict[str, dict[str, Any]] = {}
    seen: dict[str, Entry] = {}
    for entry in source.of("problem"):
        data = entry.data
        check.fields(
            entry, data, {"slug", "part", "title", "statement", "hints", "solution", "figures"}
        )
        slug = check.slug(entry, seen, max_length=120)
        row = {
            "slug": slug,
            "part": check.part(entry, parts),
            "title": check.text(entry, data, "title"),
            "statement": check.text(entry, data, "statement"),
            "hints": check.text_list(entry, data, "hints", minimum=MIN_HINTS),
            "solution": check.text(entry, data, "solution"),
            "order": len(problems),
        }
        check.figures(entry)
        if slug and row["part"]:
            problems[slug] = row
    return problems


def _validate_exercises(
    check: Checker, source: Source, parts: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    exercises: dict[str, dict[str, Any]] = {}
    seen: dict[str, Entry] = {}
    for entry in source.of("exercise"):
        data = entry.data
        check.fields(entry, data, {"slug", "part", "title", "statement", "figures"})
        slug = check.slug(entry, seen, max_length=120)
        row = {
            "slug": slug,
            "part": check.part(entry, parts),
            "title": check.text(entry, data, "title"),
            "statement": check.text(entry, data, "statement"),
            "order": len(exercises),
        }
        check.figures(entry)
        if slug and row["part"]:
            exercises[slug] = row
    return exercises


def _validate_mocks(
    check: Checker,
    source: Source,
    items: dict[str, Any],
    exercises: dict[str, Any],
) -> dict[str, dict[str, Any]]:
    mocks: dict[str, dict[str, Any]] = {}
    seen: dict[str, Entry] = {}
    for entry in source.of("mock"):
        data = entry.data
        check.fields(entry, data, {"slug", "kind", "title", "duration_s", "intro", "steps"})
        slug = check.slug(entry, seen, max_length=120)
        kind = data.get("kind")
        if not is_known(kind, _MOCK_KINDS):
            check.error(
                entry, "kind", f"unknown kind {kind!r} (known: {', '.join(sorted(_MOCK_KINDS))})"
            )
        duration = data.get("duration_s")
        if isinstance(duration, bool) or not isinstance(duration, int) or duration <= 0:
            check.error(entry, "duration_s", "must be a whole number of seconds > 0")
        steps = data.get("steps")
        rows = []
        if not isinstance(steps, list) or not steps:
            check.error(entry, "steps", "needs a list of at least one step")
            steps = []
        for position, step in enumerate(steps):
            path = f"steps[{position}]"
            if not isinstance(step, dict):
                check.error(entry, path, "must be a mapping with item or exercise")
                continue
            check.fields(entry, step, {"item", "exercise", "note"}, prefix=f"{path}.")
            item, exercise = step.get("item"), step.get("exercise")
            if (item is None) == (exercise is None):
                check.error(entry, path, "names exactly one of item or exercise")
                continue
            if item is not None and not is_known(item, items):
                check.error(entry, f"{path}.item", f"unknown item '{item}'")
            if exercise is not None and not is_known(exercise, exercises):
                check.error(entry, f"{path}.exercise", f"unknown exercise '{exercise}'")
            note = check.text(entry, step, "note", required=False, path=f"{path}.note")
            rows.append({"item": item, "exercise": exercise, "note": note})
        row = {
            "slug": slug,
            "kind": kind,
            "title": check.text(entry, data, "title"),
            "duration_s": duration,
            "intro": check.text(entry, data, "intro", required=False),
            "steps": rows,
            "order": len(mocks),
        }
        if slug:
            mocks[slug] = row
    return mocks


def _validate_skills(
    check: Checker, source: Source, parts: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    skills: dict[str, dict[str, Any]] = {}
    seen: dict[str, Entry] = {}
    for entry in source.of("skill"):
        data = entry.data
        check.fields(entry, data, {"slug", "title", "description", "parts", "figures"})
        slug = check.slug(entry, seen)
        skill_parts = data.get("parts", [])
        if not isinstance(skill_parts, list):
            check.error(entry, "parts", "must be a list of part slugs")
            skill_parts = []
        for name in skill_parts:
            if not is_known(name, parts):
                check.error(entry, "parts", f"unknown part '{name}'")
        check.figures(entry)
        row = {
            "slug": slug,
            "title": check.text(entry, data, "title"),
            "description": check.text(entry, data, "description", required=False),
            "parts": sorted({str(name) for name in skill_parts}),
            "order": len(skills),
        }
        if slug:
            skills[slug] = row
    return skills


def _validate_days(
    check: Checker,
    source: Source,
    parts: dict[str, Any],
    items: dict[str, dict[str, Any]],
    problems: dict[str, Any],
    exercises: dict[str, Any],
    mocks: dict[str, Any],
) -> dict[int, dict[str, Any]]:
    days: dict[int, dict[str, Any]] = {}
    for entry in source.of("day"):
        data = entry.data
        check.fields(entry, data, {"day", "title", "tasks"})
        day = data.get("day")
        if day not in PLAN_DAYS or isinstance(day, bool):
            check.error(
                entry, "day", f"must be one of {', '.join(map(str, PLAN_DAYS))}, got {day!r}"
            )
            continue
        if day in days:
            check.error(entry, "day", f"day {day} is declared twice")
            continue
        tasks = data.get("tasks")
        if not isinstance(tasks, list) or len(tasks) != TASKS_PER_DAY:
            count = len(tasks) if isinstance(tasks, list) else 0
            check.error(entry, "tasks", f"needs exactly {TASKS_PER_DAY} tasks, has {count}")
            tasks = tasks if isinstance(tasks, list) else []
        rows = []
        seen_tasks: set[str] = set()
        for position, task in enumerate(tasks):
            path = f"tasks[{position}]"
            if not isinstance(task, dict):
                check.error(entry, path, "must be a mapping")
                continue
            rows.append(
                _validate_task(
                    check, entry, task, path, seen_tasks, parts, items, problems, exercises, mocks
                )
            )
        days[day] = {
            "day": day,
            "title": check.text(entry, data, "title"),
            "tasks": [row for row in rows if row is not None],
        }
    return days


def _validate_task(
    check: Checker,
    entry: Entry,
    task: dict[str, Any],
    path: str,
    seen: set[str],
    parts: dict[str, Any],
    items: dict[str, dict[str, Any]],
    problems: dict[str, Any],
    exercises: dict[str, Any],
    mocks: dict[str, Any],
) -> dict[str, Any] | None:
    check.fields(
        entry,
        task,
        {
            "slug",
            "title",
            "kind",
            "items",
            "parts",
            "problem",
            "problems",
            "exercise",
            "exercises",
            "mock",
        },  # fmt: skip
        prefix=f"{path}.",
    )
    slug = task.get("slug")
    if not isinstance(slug, str) or not SLUG.match(slug):
        check.error(entry, f"{path}.slug", "missing or not a slug")
        return None
    if slug in seen:
        check.error(entry, f"{path}.slug", f"duplicate task slug '{slug}' in this day")
        return None
    seen.add(slug)
    kind = task.get("kind")
    if not is_known(kind, _TASK_KINDS):
        check.error(
            entry,
            f"{path}.kind",
            f"unknown kind {kind!r} (known: {', '.join(sorted(_TASK_KINDS))})",
        )
        return None
    row: dict[str, Any] = {
        "slug": slug,
        "title": check.text(entry, task, "title", path=f"{path}.title"),
        "kind": kind,
        "items": [],
        "problem": None,
        "exercise": None,
        "mock": None,
        "also_problems": [],
        "also_exercises": [],
    }
    for ref, known in (("problem", problems), ("exercise", exercises)):
        many = f"{ref}s"
        if many not in task:
            continue
        if kind != ref:
            check.error(entry, f"{path}.{many}", f"only a task of kind {ref} names {many}")
        elif ref in task:
            check.error(entry, f"{path}.{many}", f"give either {ref} or {many}, not both")
        elif not isinstance(task[many], list) or not task[many]:
            check.error(entry, f"{path}.{many}", f"must be a non-empty list of {ref} slugs")
        else:
            unknown = [v for v in task[many] if not is_known(v, known)]
            for value in unknown:
                check.error(entry, f"{path}.{many}", f"unknown {ref} '{value}'")
            if not unknown:
                task = {**task, ref: task[many][0]}
                row[f"also_{many}"] = list(dict.fromkeys(task[many][1:]))
    if kind == "items":
        named = task.get("items", [])
        named_parts = task.get("parts", [])
        if not isinstance(named, list) or not isinstance(named_parts, list):
            check.error(entry, path, "items and parts must be lists of slugs")
            return None
        for slug_ in named:
            if not is_known(slug_, items):
                check.error(entry, f"{path}.items", f"unknown item '{slug_}'")
        for part in named_parts:
            if not is_known(part, parts):
                check.error(entry, f"{path}.parts", f"unknown part '{part}'")
        chosen = {s for s in named if is_known(s, items)}
        chosen |= {slug_ for slug_, item in items.items() if item["part"] in named_parts}
        if not named and not named_parts:
            check.error(entry, path, "a task of kind items names items or parts")
        row["items"] = sorted(chosen)
    for ref, known in (("problem", problems), ("exercise", exercises), ("mock", mocks)):
        if kind == ref:
            value = task.get(ref)
            if value is None:
                check.error(entry, f"{path}.{ref}", f"missing: a {ref} task names its {ref}")
            elif not is_known(value, known):
                check.error(entry, f"{path}.{ref}", f"unknown {ref} '{value}'")
            else:
                row[ref] = value
        elif ref in task:
            check.error(entry, f"{path}.{ref}", f"only a task of kind {ref} names a {ref}")
    return row


def content_check_latex(*, plans: Iterable[Plan]) -> list[str]:
    """Render every math span of the plans with KaTeX; raise ContentError on failures.

    Returns warnings (the Python fallback was used).
    """
    located = []
    for plan in plans:
        for entry, path, text in plan.text_fields:
            for span in latex_spans(text):
                located.append((entry, path, span))
    try:
        results, warning = latex_check([span for _, _, span in located])
    except LatexCheckUnavailable as error:
        raise ContentError(Path("static/vendor/katex"), None, None, str(error)) from error
    check = Checker()
    for (entry, path, span), problem in zip(located, results, strict=True):
        if problem:
            tex = span.tex if len(span.tex) <= 60 else span.tex[:57] + "..."
            check.error(entry, path, f"LaTeX does not render: {problem} (in ${tex}$)")
    raise_all(check.errors)
    return [warning] if warning else []
