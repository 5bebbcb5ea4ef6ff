"""None of the chapter's wrong values (listed below, checked against the papers) reaches
a learner.

A wrong value may appear only where it is shown as wrong: in an incorrect option of a
multiple-choice item (its text or its `why`), in a free-text trap, or in an item's
`explanation` in a sentence that says it is wrong. Anywhere else (prompts, correct
options, answers, model answers, rubrics, hints, solutions, statements, skills, plan,
mocks) the test fails, naming the file, the entry and the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from quizbank.content_source import Entry, content_read
from tests.quizbank.loading import FIXTURE, REAL

NOT_DIGIT = r"(?<![\d.,])"
END = r"(?![\d])"


@dataclass(frozen=True)
class Wrong:
    what: str
    pattern: re.Pattern[str]
    # Extra condition on the whole field, for values that are right in another context.
    applies: Callable[[str], bool] = lambda text: True


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_BATCH_64 = _re(r"batch(?:\s*size)?(?:\s*of)?\s*64|64\b[^.\n]{0,20}batch")
_SE_CONTEXT = _re(r"\bSE\b|squeeze|excitation")

WRONG = [
    Wrong(
        "the chapter's bottleneck counts (right: 4,352 / 17,408 / 69,632 / 278,528)",
        _re(NOT_DIGIT + r"(20,?736|82,?944|331,?776|1,?327,?104)" + r"(?![\d,])"),
    ),
    Wrong("the chapter's ratio 0.281 (right: 0.059)", _re(NOT_DIGIT + r"0\.281" + END)),
    Wrong("'72% fewer params' (right: ~94% at equal width)", _re(NOT_DIGIT + r"72\s?%")),
    Wrong(
        "top-1 24.0 / 22.4 / 21.3 (right: 22.85 / 21.75 / 21.43 10-crop; 23.87 / 22.63 / "
        "21.69 torchvision 1-crop; ResNeXt table 23.9 / 22.0)",
        _re(NOT_DIGIT + r"(24\.0|22\.4|21\.3)" + END),
    ),
    Wrong(
        "shortcut options 24.5 / 23.6 (right: 25.03 / 24.52 / 24.19)",
        _re(NOT_DIGIT + r"(24\.5|23\.6)" + END),
    ),
    Wrong("'VGG-19 25.6%' (right: VGG-16 28.07, 10-crop)", _re(r"25\.6\s?%")),
    Wrong(
        "'ensemble 19.4%' (right: ensemble 3.57% top-5; 19.38% single ResNet-152)",
        _re(NOT_DIGIT + r"19\.4" + END),
    ),
    Wrong(
        "CIFAR v2-164 5.21 / 23.86 (right: 5.46 / 24.33)",
        _re(NOT_DIGIT + r"(5\.21|23\.86)" + END),
    ),
    Wrong(
        "CIFAR v1-164 as 5.46 / 24.33 (right: 5.93 / 25.16)",
        _re(r"v1-164\b(?:(?!v2)[^\n]){0,40}?" + NOT_DIGIT + r"(5\.46|24\.33)" + END),
    ),
    Wrong(
        "v2-1001 CIFAR-10 4.62 at batch 128 (right: 4.92; 4.62 is batch 64)",
        _re(NOT_DIGIT + r"4\.62" + END),
        applies=lambda text: not _BATCH_64.search(text),
    ),
    Wrong(
        "SE '~2.5K parameters per block' (right: 8,192 weights, 8,464 with biases)",
        _re(r"2\.5\s?K\b|(?<![\d,.])2,500\s+param"),
    ),
    Wrong(
        "SE '0.7% overhead' (right: ~11.8% per block, +0.26% FLOPs)", _re(NOT_DIGIT + r"0\.7\s?%")
    ),
    Wrong(
        "SE gain '~1%' (right: 24.80 -> 23.29, 1.51 points)",
        _re(NOT_DIGIT + r"1(?:\.0)?\s?%"),
        applies=lambda text: bool(_SE_CONTEXT.search(text)),
    ),
    Wrong("'ResNeXt-50 4.3 GFLOPs' (right: 4.2)", _re(NOT_DIGIT + r"4\.3\s?G")),
]

# A sentence of an explanation that quotes a wrong value must say so.
_SAYS_WRONG = _re(
    r"\b(wrong|incorrect|not|never|isn't|aren't|misquot\w*|mistake\w*|myth|erroneous|"
    r"instead|rather than|actually|claims?|chapter)\b"
)
# Fields that hold references or keys, not text a learner reads.
_SKIP = {"slug", "part", "parts", "kind", "tags", "figure", "figures", "items", "item"}
_SKIP |= {"problem", "exercise", "mock", "day", "tolerance", "tolerance_mode", "duration_s"}


@dataclass(frozen=True)
class Field:
    path: str
    text: str
    context: str | None  # "incorrect-option", "trap", "explanation" or None (forbidden)


def fields_of(entry: Entry) -> Iterator[Field]:
    data = entry.data
    for key, value in data.items():
        if key in _SKIP:
            continue
        if entry.kind == "item" and key == "choices" and isinstance(value, list):
            for index, choice in enumerate(value):
                if not isinstance(choice, dict):
                    continue
                context = None if choice.get("correct") is True else "incorrect-option"
                for name in ("text", "why"):
                    yield Field(f"choices[{index}].{name}", str(choice.get(name, "")), context)
        elif entry.kind == "item" and key == "traps":
            yield from _walk(key, value, "trap")
        elif entry.kind == "item" and key == "explanation":
            yield Field(key, str(value), "explanation")
        else:
            yield from _walk(key, value, None)


def _walk(path: str, value: Any, context: str | None) -> Iterator[Field]:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key not in _SKIP:
                yield from _walk(f"{path}.{key}", inner, context)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _walk(f"{path}[{index}]", inner, context)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        yield Field(path, repr(value), context)
        if isinstance(value, int):
            yield Field(path, f"{value:,}", context)
    else:
        yield Field(path, str(value), context)


def _sentence_at(text: str, index: int) -> str:
    start = max(text.rfind(". ", 0, index), text.rfind("\n", 0, index)) + 1
    ends = [pos for pos in (text.find(". ", index), text.find("\n", index)) if pos != -1]
    return text[start : min(ends) if ends else len(text)]


def violations(entries: list[Entry], root: Path) -> list[str]:
    found = []
    for entry in entries:
        for field in fields_of(entry):
            for wrong in WRONG:
                for match in wrong.pattern.finditer(field.text):
                    if not wrong.applies(field.text):
                        continue
                    if field.context in ("incorrect-option", "trap"):
                        continue
                    if field.context == "explanation" and _SAYS_WRONG.search(
                        _sentence_at(field.text, match.start())
                    ):
                        continue
                    found.append(
                        f"{entry.file.relative_to(root)}: {entry.kind} '{entry.slug}', "
                        f"field '{field.path}': {match.group(0)!r} is {wrong.what}"
                    )
    return found


def scan(data: dict[str, Any], kind: str = "item") -> list[str]:
    entry = Entry(kind=kind, file=FIXTURE / "x.yaml", data={"slug": "s", **data}, index=0)
    return violations([entry], FIXTURE)


def test_the_real_content_teaches_none_of_the_chapters_wrong_values():
    entries = list(content_read(folder=REAL).all())
    assert len(entries) > 50, "the real content is not there yet"
    problems = violations(entries, REAL)
    assert not problems, "\n".join(problems)


def test_the_fixture_content_is_clean():
    assert violations(list(content_read(folder=FIXTURE).all()), FIXTURE) == []


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"prompt": "The paper reports 24.0% top-1 for ResNet-50."}, "prompt"),
        ({"model_answer": "The bottleneck ratio is 0.281."}, "model_answer"),
        ({"answer": 0.281}, "answer"),
        ({"answer": 20736}, "answer"),
        ({"choices": [{"text": "19.4%", "correct": True, "why": "ok"}]}, "choices[0].text"),
        ({"explanation": "The ensemble reached 19.4% error."}, "explanation"),
        ({"rubric": [{"text": "Says it has ~72% fewer parameters"}]}, "rubric[0].text"),
        ({"prompt": "v2-1001 reaches 4.62% on CIFAR-10 at batch 128."}, "prompt"),
        ({"solution": "The SE block adds ~2.5K parameters."}, "solution"),
        ({"prompt": "SE gives about 1% better top-1 on ResNet-50."}, "prompt"),
        ({"statement": "ResNeXt-50 needs 4.3 GFLOPs."}, "statement"),
        ({"prompt": "v1-164 gets 5.46% on CIFAR-10."}, "prompt"),
    ],
)
def test_a_wrong_value_outside_a_marked_place_is_reported(data, field):
    problems = scan(data)
    assert problems and all(f"field '{field}'" in p for p in problems), problems


@pytest.mark.parametrize(
    "data",
    [
        {"choices": [{"text": "24.0%", "correct": False, "why": "That is the chapter's error."}]},
        {"explanation": "The chapter's 0.281 is wrong: the same code prints 0.059."},
        {"traps": [{"phrase": "about 1% from SE", "why": "SE gains 1.51 points."}]},
        {"prompt": "ResNet-50 has 25.6M parameters and needs 4.1 G multiply-adds."},
        {"prompt": "v2-1001 reaches 4.62% on CIFAR-10 at batch size 64 (R2)."},
        {"prompt": "v2-164 reaches 5.46% and v1-164 5.93% on CIFAR-10."},
        {"prompt": "Torchvision's ResNet-50 V1 weights: 23.87% top-1, 1-crop."},
        {"prompt": "Shortcut option B: 24.52% (10-crop); SE-ResNet-50 23.29%."},
        {"prompt": "Dropout of 1% in a plain MLP."},
        {"answer": 0.059},
    ],
)
def test_correct_values_and_marked_wrong_ones_pass(data):
    assert scan(data) == []


_RATE = _re(r"(?<![\d.])\d{1,2}\.\d{1,2}\s?%")
_RATE_WORDS = _re(r"top-?[15]|error")
_PROTOCOL = _re(
    r"10-crop|1-crop|single-crop|one crop|cent(?:re|er) crop|\bcrop|CIFAR|batch|test set|"
    r"\bval(?:idation)?\b|\btable\b|torchvision"
)


def entries_without_protocol(entries: list[Entry], root: Path) -> list[str]:
    """Entries quoting an error rate (xx.xx% with top-1/top-5/error) but no protocol."""
    missing = []
    for entry in entries:
        texts = [field.text for field in fields_of(entry)]
        quotes_rate = any(_RATE.search(t) and _RATE_WORDS.search(t) for t in texts)
        if quotes_rate and not any(_PROTOCOL.search(t) for t in texts):
            missing.append(f"{entry.file.relative_to(root)}: {entry.kind} '{entry.slug}'")
    return missing


def test_every_entry_quoting_an_error_rate_names_its_protocol():
    entries = list(content_read(folder=REAL).all())
    missing = entries_without_protocol(entries, REAL)
    assert not missing, "error rates without a protocol (10-crop, 1-crop, CIFAR batch):\n" + (
        "\n".join(missing)
    )


def test_an_error_rate_without_protocol_is_detected():
    bare = Entry(
        kind="item", file=FIXTURE / "x.yaml", data={"prompt": "Top-1 error 21.43%?"}, index=0
    )
    named = Entry(
        kind="item",
        file=FIXTURE / "x.yaml",
        data={"prompt": "Top-1 error 21.43%?", "protocol": "ImageNet val, 10-crop"},
        index=0,
    )
    assert entries_without_protocol([bare, named], FIXTURE) == ["x.yaml: item 'None'"]
