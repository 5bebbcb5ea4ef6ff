"""Reading and validating a chapter folder of quiz-bank YAML (format: content/SCHEMA.md).

Everything is checked before the loader writes anything: structure and known fields,
slugs unique per kind across files, references (part, item, problem, exercise, mock),
kind-specific required fields, figure keys, and LaTeX rendered by KaTeX. Problems are
collected and raised together as ContentError (file, slug, field, message).
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings

from quizbank.content_figures import FIGURE_KEYS
from quizbank.content_latex import LatexCheckUnavailable, latex_check, latex_spans
from quizbank.models import Item, MockScript, ReviewTask

PLAN_DAYS = (0, 3, 7, 14, 21)
TASKS_PER_DAY = 3
RUBRIC_POINTS = (3, 6)
MIN_CHOICES = 2
MIN_ORDERING_STEPS = 3
MIN_HINTS = 2
# Item difficulty: 1 recall, 2 explain or apply, 3 interview depth.
DIFFICULTIES = (1, 2, 3)
# Units whose numbers come from a formula or a network, so a test can recompute them.
COMPUTABLE_UNITS = re.compile(r"param|weight|multiply|mac|flop|ratio|std", re.IGNORECASE)
_ERROR_RATE = re.compile(r"error|accuracy|top-?[15]\b", re.IGNORECASE)
_SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
_TOP_LEVEL = ("chapter", "parts", "skills", "items", "problems", "exercises", "mocks", "days")
_ITEM_KINDS = {choice.value for choice in Item.Kind}
_MOCK_KINDS = {choice.value for choice in MockScript.Kind}
_TASK_KINDS = {choice.value for choice in ReviewTask.Kind}
_COMMON_ITEM_FIELDS = {
    "slug",
    "part",
    "kind",
    "cheat_sheet",
    "difficulty",
    "tags",
    "prompt",
    "explanation",
    "figures",
}
_ITEM_FIELDS = {
    "multiple_choice": {"choices"},
    "numeric": {"answer", "tolerance", "tolerance_mode", "unit", "protocol", "figure"},
    "free_text": {"model_answer", "rubric", "traps"},
    "ordering": {"steps", "accepted_orders"},
}


def default_content_root() -> Path:
    return Path(settings.BASE_DIR) / "quizbank" / "content"


def chapter_folders(*, root: Path | None = None) -> list[Path]:
    """The chapter folders under content/: every sub-folder holding a chapter.yaml."""
    root = root or default_content_root()
    return sorted(path.parent for path in root.glob("*/chapter.yaml"))


# --- errors ---------------------------------------------------------------------------


def display_path(path: Path) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if relative.startswith("..") else relative


class ContentError(Exception):
    """A problem in the content files; `others` holds the further problems found."""

    def __init__(
        self,
        file: Path | str,
        slug: str | None,
        field: str | None,
        message: str,
        *,
        entity: str = "item",
    ) -> None:
        self.file = Path(file)
        self.slug = slug
        self.field = field
        self.message = message
        self.entity = entity
        self.others: list[ContentError] = []
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.slug is not None:
            where.append(f"{self.entity} '{self.slug}'")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        detail = f"{', '.join(where)}: " if where else ""
        return f"{display_path(self.file)}: {detail}{self.message}"

    @property
    def all(self) -> list[ContentError]:
        return [self, *self.others]


# --- reading --------------------------------------------------------------------------


@dataclass
class Entry:
    """One entry of a top-level list (or the chapter mapping) and the file it came from."""

    kind: str  # chapter, part, skill, item, problem, exercise, mock, day
    file: Path
    data: dict[str, Any]
    index: int  # position among the entries of its kind, across files

    @property
    def slug(self) -> str | None:
        value = self.data.get("day" if self.kind == "day" else "slug")
        return None if value is None else str(value)


@dataclass
class Source:
    """A chapter folder as read from disk, before validation."""

    folder: Path
    entries: dict[str, list[Entry]] = field(default_factory=lambda: defaultdict(list))

    def of(self, kind: str) -> list[Entry]:
        return self.entries.get(kind, [])

    def all(self) -> Iterator[Entry]:
        for kind in ("chapter", "part", "skill", "item", "problem", "exercise", "mock", "day"):
            yield from self.of(kind)


_KIND_OF_KEY = {
    "chapter": "chapter",
    "parts": "part",
    "skills": "skill",
    "items": "item",
    "problems": "problem",
    "exercises": "exercise",
    "mocks": "mock",
    "days": "day",
}


def content_read(*, folder: Path) -> Source:
    """Parse every *.yaml of a chapter folder; malformed YAML raises ContentError."""
    source = Source(folder=folder)
    errors: list[ContentError] = []
    files = sorted(folder.rglob("*.yaml"))
    if not files:
        raise ContentError(folder, None, None, "no *.yaml files in this folder")
    for path in files:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(error, "problem", None) or str(error)
            errors.append(ContentError(path, None, None, f"malformed YAML{where}: {problem}"))
            continue
        except UnicodeDecodeError as error:
            errors.append(ContentError(path, None, None, f"not UTF-8 text: {error}"))
            continue
        if document is None:
            continue
        if not isinstance(document, dict):
            errors.append(ContentError(path, None, None, "the file must be a mapping of keys"))
            continue
        for key, value in document.items():
            if key not in _TOP_LEVEL:
                errors.append(
                    ContentError(
                        path,
                        None,
                        None,
                        f"unknown top-level key '{key}' (known: {', '.join(_TOP_LEVEL)})",
                    )
                )
                continue
            kind = _KIND_OF_KEY[key]
            values = [value] if key == "chapter" else value
            if not isinstance(values, list):
                errors.append(ContentError(path, None, key, "must be a list of entries"))
                continue
            for position, data in enumerate(values):
                if not isinstance(data, dict):
                    errors.append(
                        ContentError(path, None, f"{key}[{position}]", "must be a mapping")
                    )
                    continue
                entries = source.entries[kind]
                entries.append(Entry(kind=kind, file=path, data=data, index=len(entries)))
    raise_all(errors)
    return source


def raise_all(errors: list[ContentError]) -> None:
    if errors:
        first = errors[0]
        first.others = errors[1:]
        raise first


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


class _Checker:
    def __init__(self) -> None:
        self.errors: list[ContentError] = []
        self.texts: list[tuple[Entry, str, str]] = []

    def error(self, entry: Entry, field_name: str | None, message: str) -> None:
        self.errors.append(
            ContentError(
                entry.file,
                entry.slug,
                field_name,
                message,
                entity=entry.kind,
            )
        )

    def fields(
        self, entry: Entry, data: dict[str, Any], allowed: set[str], prefix: str = ""
    ) -> None:
        for name in data:
            if name not in allowed:
                self.error(
                    entry,
                    f"{prefix}{name}",
                    f"unknown field (allowed here: {', '.join(sorted(allowed))})",
                )

    def text(
        self,
        entry: Entry,
        data: dict[str, Any],
        name: str,
        *,
        required: bool = True,
        path: str | None = None,
    ) -> str:
        path = path or name
        value = data.get(name)
        if value is None or value == "":
            if required:
                self.error(entry, path, "missing (required)")
            return ""
        if not isinstance(value, str):
            self.error(entry, path, f"must be text, got {type(value).__name__} {value!r}")
            return ""
        self.texts.append((entry, path, value))
        return value

    def text_list(
        self, entry: Entry, data: dict[str, Any], name: str, *, minimum: int = 0
    ) -> list[str]:
        value = data.get(name, [] if minimum == 0 else None)
        if value is None:
            self.error(entry, name, "missing (required)")
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.error(entry, name, "must be a list of non-empty texts")
            return []
        if len(value) < minimum:
            self.error(entry, name, f"needs at least {minimum} entries, has {len(value)}")
        for position, text in enumerate(value):
            self.texts.append((entry, f"{name}[{position}]", text))
        return value

    def slug(self, entry: Entry, seen: dict[str, Entry], *, max_length: int = 50) -> str | None:
        value = entry.data.get("slug")
        if value is None:
            self.error(entry, "slug", "missing (required)")
            return None
        if not isinstance(value, str) or not _SLUG.match(value):
            self.error(entry, "slug", "must be letters, digits, '-' or '_'")
            return None
        if len(value) > max_length:
            self.error(entry, "slug", f"longer than {max_length} characters")
            return None
        if value in seen:
            other = seen[value]
            self.error(
                entry,
                "slug",
                f"duplicate slug: also used by the {other.kind} in {display_path(other.file)}",
            )
            return None
        seen[value] = entry
        return value

    def figures(self, entry: Entry) -> None:
        declared = entry.data.get("figures")
        if declared is None:
            return
        if not isinstance(declared, dict):
            self.error(entry, "figures", "must be a mapping of figure key to stated value")
            return
        for key, value in declared.items():
            if key not in FIGURE_KEYS:
                self.error(entry, f"figures.{key}", "unknown figure key (see SCHEMA.md)")
            elif isinstance(value, bool) or not isinstance(value, int | float):
                self.error(entry, f"figures.{key}", "the stated value must be a number")

    def part(self, entry: Entry, parts: dict[str, Any]) -> str | None:
        value = entry.data.get("part")
        if value is None:
            self.error(entry, "part", "missing (required)")
            return None
        if not _known(value, parts):
            self.error(entry, "part", f"unknown part '{value}'")
            return None
        return value


def _known(value: object, known: Iterable[str]) -> bool:
    """`value in known`, false (not a crash) for a list or mapping where a slug belongs."""
    return isinstance(value, str) and value in known


def content_validate(*, source: Source) -> Plan:
    """Check a chapter folder completely; raise ContentError listing every problem."""
    check = _Checker()

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

    items = _validate_items(check, source, parts)
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


def _validate_items(
    check: _Checker, source: Source, parts: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    items: dict[str, dict[str, Any]] = {}
    seen: dict[str, Entry] = {}
    order_in_part: dict[str, int] = defaultdict(int)
    for entry in source.of("item"):
        data = entry.data
        slug = check.slug(entry, seen, max_length=120)
        kind = data.get("kind")
        if not _known(kind, _ITEM_KINDS):
            check.error(
                entry, "kind", f"unknown kind {kind!r} (known: {', '.join(sorted(_ITEM_KINDS))})"
            )
            continue
        check.fields(entry, data, _COMMON_ITEM_FIELDS | _ITEM_FIELDS[kind])
        part = check.part(entry, parts)
        check.figures(entry)
        cheat_sheet = data.get("cheat_sheet", False)
        if not isinstance(cheat_sheet, bool):
            check.error(entry, "cheat_sheet", "must be true or false")
        difficulty = data.get("difficulty")
        if difficulty not in DIFFICULTIES or isinstance(difficulty, bool):
            check.error(
                entry,
                "difficulty",
                "missing or not 1, 2 or 3 (1 recall, 2 explain or apply, 3 interview depth)",
            )
            difficulty = 2
        tags = data.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            check.error(entry, "tags", "must be a list of texts")
            tags = []
        row: dict[str, Any] = {
            "slug": slug,
            "part": part,
            "kind": kind,
            "cheat_sheet": bool(cheat_sheet),
            "difficulty": difficulty,
            "tags": tags,
            "prompt": check.text(entry, data, "prompt"),
            "explanation": check.text(entry, data, "explanation", required=False),
            "answer_number": None,
            "tolerance": None,
            "tolerance_mode": Item.ToleranceMode.RELATIVE.value,
            "unit": "",
            "protocol": "",
            "model_answer": "",
            "traps": [],
            "accepted_orders": [],
            "choices": [],
            "rubric": [],
        }
        if kind == "multiple_choice":
            row["choices"] = _validate_choices(check, entry)
        elif kind == "numeric":
            _validate_numeric(check, entry, row)
        elif kind == "free_text":
            _validate_free_text(check, entry, row)
        else:
            steps = check.text_list(entry, data, "steps", minimum=MIN_ORDERING_STEPS)
            row["choices"] = [
                {"text": text, "correct": True, "why": ""} for text in steps
            ]  # an ordering item's steps are its choices, `order` being the right place
            row["accepted_orders"] = _validate_accepted_orders(check, entry, len(steps))
        if slug and part:
            row["order"] = order_in_part[part]
            order_in_part[part] += 1
            items[slug] = row
    return items


def _validate_accepted_orders(check: _Checker, entry: Entry, count: int) -> list[list[int]]:
    """Other defensible orders of an ordering item: each a permutation of 1..count that
    differs from the canonical order. The explanation should say which swaps are fine."""
    orders = entry.data.get("accepted_orders", [])
    canonical = list(range(1, count + 1))
    if not isinstance(orders, list) or not all(
        isinstance(order, list)
        and all(isinstance(n, int) and not isinstance(n, bool) for n in order)
        and sorted(order) == canonical
        and order != canonical
        for order in orders
    ):
        check.error(
            entry,
            "accepted_orders",
            f"must be a list of other orders, each the positions 1 to {count} once",
        )
        return []
    return orders


def _validate_choices(check: _Checker, entry: Entry) -> list[dict[str, Any]]:
    choices = entry.data.get("choices")
    if choices is None:
        check.error(entry, "choices", "missing: a multiple-choice item needs its options")
        return []
    if not isinstance(choices, list) or len(choices) < MIN_CHOICES:
        check.error(entry, "choices", f"needs a list of at least {MIN_CHOICES} options")
        return []
    rows = []
    for position, choice in enumerate(choices):
        path = f"choices[{position}]"
        if not isinstance(choice, dict):
            check.error(entry, path, "must be a mapping with text, correct and why")
            continue
        check.fields(entry, choice, {"text", "correct", "why"}, prefix=f"{path}.")
        correct = choice.get("correct")
        if not isinstance(correct, bool):
            check.error(entry, f"{path}.correct", "must be true or false")
        rows.append(
            {
                "text": check.text(entry, choice, "text", path=f"{path}.text"),
                "correct": correct is True,
                "why": check.text(entry, choice, "why", path=f"{path}.why"),
            }
        )
    if rows and not any(row["correct"] for row in rows):
        check.error(entry, "choices", "no correct option")
    return rows


def _validate_numeric(check: _Checker, entry: Entry, row: dict[str, Any]) -> None:
    data = entry.data
    answer = data.get("answer")
    if answer is None:
        check.error(entry, "answer", "missing: a numeric item needs its answer")
    elif isinstance(answer, bool) or not isinstance(answer, int | float):
        check.error(entry, "answer", f"must be a number, got {answer!r}")
    else:
        row["answer_number"] = float(answer)
    tolerance = data.get("tolerance", 0)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or tolerance < 0:
        check.error(entry, "tolerance", "must be a number >= 0")
    else:
        row["tolerance"] = float(tolerance)
    mode = data.get("tolerance_mode", Item.ToleranceMode.RELATIVE.value)
    if not _known(mode, {choice.value for choice in Item.ToleranceMode}):
        check.error(entry, "tolerance_mode", "must be 'relative' or 'absolute'")
    else:
        row["tolerance_mode"] = mode
    row["unit"] = check.text(entry, data, "unit")
    row["protocol"] = check.text(entry, data, "protocol", required=False)
    is_rate = "%" in row["unit"] or "percent" in row["unit"].lower()
    if is_rate and _ERROR_RATE.search(row["prompt"]) and not row["protocol"]:
        check.error(
            entry,
            "protocol",
            "an error rate must name its protocol (e.g. 'ImageNet val, 10-crop (R1 Table 3)')",
        )
    figure = data.get("figure")
    if figure is not None and not _known(figure, FIGURE_KEYS):
        check.error(entry, "figure", f"unknown figure key {figure!r} (see SCHEMA.md)")


def _validate_free_text(check: _Checker, entry: Entry, row: dict[str, Any]) -> None:
    data = entry.data
    row["model_answer"] = check.text(entry, data, "model_answer")
    rubric = data.get("rubric")
    low, high = RUBRIC_POINTS
    if not isinstance(rubric, list) or not low <= len(rubric) <= high:
        count = len(rubric) if isinstance(rubric, list) else 0
        check.error(entry, "rubric", f"needs {low} to {high} points, has {count}")
        rubric = rubric if isinstance(rubric, list) else []
    for position, point in enumerate(rubric):
        path = f"rubric[{position}]"
        if not isinstance(point, dict):
            check.error(entry, path, "must be a mapping with text and keywords")
            continue
        check.fields(entry, point, {"text", "keywords"}, prefix=f"{path}.")
        keywords = point.get("keywords", [])
        if not isinstance(keywords, list) or not all(isinstance(k, str) and k for k in keywords):
            check.error(entry, f"{path}.keywords", "must be a list of non-empty texts")
            keywords = []
        row["rubric"].append(
            {"text": check.text(entry, point, "text", path=f"{path}.text"), "keywords": keywords}
        )
    traps = data.get("traps", [])
    if not isinstance(traps, list):
        check.error(entry, "traps", "must be a list of {phrase, why}")
        traps = []
    for position, trap in enumerate(traps):
        path = f"traps[{position}]"
        if not isinstance(trap, dict):
            check.error(entry, path, "must be a mapping with phrase and why")
            continue
        check.fields(entry, trap, {"phrase", "why"}, prefix=f"{path}.")
        row["traps"].append(
            {
                "phrase": check.text(entry, trap, "phrase", path=f"{path}.phrase"),
                "why": check.text(entry, trap, "why", path=f"{path}.why"),
            }
        )


def _validate_problems(
    check: _Checker, source: Source, parts: dict[str, Any]
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
    check: _Checker, source: Source, parts: dict[str, Any]
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
    check: _Checker,
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
        if not _known(kind, _MOCK_KINDS):
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
            if item is not None and not _known(item, items):
                check.error(entry, f"{path}.item", f"unknown item '{item}'")
            if exercise is not None and not _known(exercise, exercises):
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
    check: _Checker, source: Source, parts: dict[str, Any]
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
            if not _known(name, parts):
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
    check: _Checker,
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
    check: _Checker,
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
    if not isinstance(slug, str) or not _SLUG.match(slug):
        check.error(entry, f"{path}.slug", "missing or not a slug")
        return None
    if slug in seen:
        check.error(entry, f"{path}.slug", f"duplicate task slug '{slug}' in this day")
        return None
    seen.add(slug)
    kind = task.get("kind")
    if not _known(kind, _TASK_KINDS):
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
            unknown = [v for v in task[many] if not _known(v, known)]
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
            if not _known(slug_, items):
                check.error(entry, f"{path}.items", f"unknown item '{slug_}'")
        for part in named_parts:
            if not _known(part, parts):
                check.error(entry, f"{path}.parts", f"unknown part '{part}'")
        chosen = {s for s in named if _known(s, items)}
        chosen |= {slug_ for slug_, item in items.items() if item["part"] in named_parts}
        if not named and not named_parts:
            check.error(entry, path, "a task of kind items names items or parts")
        row["items"] = sorted(chosen)
    for ref, known in (("problem", problems), ("exercise", exercises), ("mock", mocks)):
        if kind == ref:
            value = task.get(ref)
            if value is None:
                check.error(entry, f"{path}.{ref}", f"missing: a {ref} task names its {ref}")
            elif not _known(value, known):
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
    check = _Checker()
    for (entry, path, span), problem in zip(located, results, strict=True):
        if problem:
            tex = span.tex if len(span.tex) <= 60 else span.tex[:57] + "..."
            check.error(entry, path, f"LaTeX does not render: {problem} (in ${tex}$)")
    raise_all(check.errors)
    return [warning] if warning else []
