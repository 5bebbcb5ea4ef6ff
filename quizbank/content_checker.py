"""Field-level checks shared by every kind of content entry: known fields, texts, slugs,
figure keys, the part an entry belongs to. Problems are collected, not raised, so that
one run reports all of them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from quizbank.content_figures import FIGURE_KEYS
from quizbank.content_source import ContentError, Entry, display_path

SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")


class Checker:
    """Collects the problems of one validation run (`errors`) and every text it saw
    (`texts`, for the LaTeX check)."""

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
        if not isinstance(value, str) or not SLUG.match(value):
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
        if not is_known(value, parts):
            self.error(entry, "part", f"unknown part '{value}'")
            return None
        return value


def is_known(value: object, known: Iterable[str]) -> bool:
    """`value in known`, false (not a crash) for a list or mapping where a slug belongs."""
    return isinstance(value, str) and value in known
