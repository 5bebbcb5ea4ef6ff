"""Validating the quiz items of a chapter: the fields every item has, and those of each
kind (multiple choice, numeric, free text, ordering)."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from quizbank.content_checker import Checker, is_known
from quizbank.content_figures import FIGURE_KEYS
from quizbank.content_source import Entry, Source
from quizbank.models import Item

RUBRIC_POINTS = (3, 6)
MIN_CHOICES = 2
MIN_ORDERING_STEPS = 3
# Item difficulty: 1 recall, 2 explain or apply, 3 interview depth.
DIFFICULTIES = (1, 2, 3)
# Units whose numbers come from a formula or a network, so a test can recompute them.
COMPUTABLE_UNITS = re.compile(r"param|weight|multiply|mac|flop|ratio|std", re.IGNORECASE)
_ERROR_RATE = re.compile(r"error|accuracy|top-?[15]\b", re.IGNORECASE)
_ITEM_KINDS = {choice.value for choice in Item.Kind}
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


def validate_items(
    check: Checker, source: Source, parts: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    items: dict[str, dict[str, Any]] = {}
    seen: dict[str, Entry] = {}
    order_in_part: dict[str, int] = defaultdict(int)
    for entry in source.of("item"):
        data = entry.data
        slug = check.slug(entry, seen, max_length=120)
        kind = data.get("kind")
        if not is_known(kind, _ITEM_KINDS):
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


def _validate_accepted_orders(check: Checker, entry: Entry, count: int) -> list[list[int]]:
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


def _validate_choices(check: Checker, entry: Entry) -> list[dict[str, Any]]:
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


def _validate_numeric(check: Checker, entry: Entry, row: dict[str, Any]) -> None:
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
    if not is_known(mode, {choice.value for choice in Item.ToleranceMode}):
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
    if figure is not None and not is_known(figure, FIGURE_KEYS):
        check.error(entry, "figure", f"unknown figure key {figure!r} (see SCHEMA.md)")


def _validate_free_text(check: Checker, entry: Entry, row: dict[str, Any]) -> None:
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
