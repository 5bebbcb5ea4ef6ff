"""Reading a chapter folder of quiz-bank YAML into entries, and the error that names a
problem's file, slug and field (format: content/SCHEMA.md).

Reading checks only what makes a file readable (YAML, UTF-8, a mapping of known
top-level keys); `quizbank.content_validation` checks the entries.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings

_TOP_LEVEL = ("chapter", "parts", "skills", "items", "problems", "exercises", "mocks", "days")


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
