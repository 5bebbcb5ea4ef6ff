"""Content: the longest option must not give the answer away. Over the bank, a correct
option is the longest (or tied for it) in at most 40% of the multiple-choice items;
four options picked at random would give about 25%."""

from __future__ import annotations

from pathlib import Path

import yaml

from quizbank.content_source import chapter_folders

MAX_SHARE = 0.40


def _multiple_choice_items() -> list[dict]:
    items = []
    for folder in chapter_folders():
        for path in sorted(Path(folder).rglob("*.yaml")):
            for entry in (yaml.safe_load(path.read_text()) or {}).get("items") or []:
                if entry.get("kind") == "multiple_choice" and isinstance(entry, dict):
                    items.append(entry)
    return items


def correct_is_longest(entry: dict) -> bool:
    choices = entry["choices"]
    right = max(len(str(c["text"])) for c in choices if c.get("correct"))
    wrong = max((len(str(c["text"])) for c in choices if not c.get("correct")), default=0)
    return right >= wrong


def test_the_correct_option_is_not_usually_the_longest():
    items = _multiple_choice_items()
    assert len(items) >= 30
    tells = sorted(entry["slug"] for entry in items if correct_is_longest(entry))
    share = len(tells) / len(items)
    print(f"correct option longest in {len(tells)} of {len(items)} ({share:.0%})")
    assert share <= MAX_SHARE, f"{len(tells)} of {len(items)} items: {tells}"
