"""Bad content stops the load: exit status 1, a message naming file, entry and field, and
nothing written, not even the valid edits made in the same change."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from quizbank.models import Item
from tests.quizbank.loading import copy_fixture, edit_yaml, find, snapshot

pytestmark = pytest.mark.django_db

BLOCKS = "items/blocks.yaml"


def item_edit(slug: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        edit_yaml(folder / BLOCKS, lambda doc: change(find(doc["items"], slug)))

    return apply


def file_edit(name: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    return lambda folder: edit_yaml(folder / name, change)


def write(name: str, text: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_text(text)


def pop(key: str) -> Callable[[dict], None]:
    return lambda entry: entry.pop(key)


def set_(**values) -> Callable[[dict], None]:
    return lambda entry: entry.update(values)


def add_item(entry: dict) -> Callable[[dict], None]:
    return lambda doc: doc["items"].append(entry)


DUPLICATE = {
    "slug": "why-identity",
    "part": "init",
    "kind": "ordering",
    "prompt": "Order these.",
    "steps": ["a", "b", "c"],
}
BAD_RUBRIC = [{"text": f"point {n}", "keywords": ["x"]} for n in range(7)]

# (id, change, file, entry label, field, message)
CASES = [
    (
        "task-with-problem-and-problems",
        file_edit(
            "plan.yaml",
            lambda d: next(
                t for day in d["days"] for t in day["tasks"] if t["kind"] == "problem"
            ).update(problems=["bottleneck-cost"]),
        ),
        "plan.yaml",
        "day '0'",
        "tasks[1].problems",
        "either problem or problems",
    ),
    (
        "accepted-order-not-a-permutation",
        item_edit("basic-block-order", set_(accepted_orders=[[1, 1, 2]])),
        BLOCKS,
        "item 'basic-block-order'",
        "accepted_orders",
        "each the positions 1 to",
    ),
    (
        "item-without-difficulty",
        item_edit("why-identity", pop("difficulty")),
        BLOCKS,
        "item 'why-identity'",
        "difficulty",
        "missing or not 1, 2 or 3",
    ),
    (
        "difficulty-out-of-range",
        item_edit("basic-block-params", set_(difficulty=5)),
        BLOCKS,
        "item 'basic-block-params'",
        "difficulty",
        "missing or not 1, 2 or 3",
    ),
    (
        "unknown-kind",
        item_edit("why-identity", set_(kind="essay")),
        BLOCKS,
        "item 'why-identity'",
        "kind",
        "unknown kind 'essay'",
    ),
    (
        "numeric-without-answer",
        item_edit("basic-block-params", pop("answer")),
        BLOCKS,
        "item 'basic-block-params'",
        "answer",
        "needs its answer",
    ),
    (
        "numeric-without-unit",
        item_edit("basic-block-params", pop("unit")),
        BLOCKS,
        "item 'basic-block-params'",
        "unit",
        "missing",
    ),
    (
        "error-rate-without-protocol",
        item_edit(
            "basic-block-params",
            set_(prompt="Top-1 error of ResNet-50?", unit="%", figure=None),
        ),
        BLOCKS,
        "item 'basic-block-params'",
        "protocol",
        "must name its protocol",
    ),
    (
        "free-text-without-model-answer",
        item_edit("explain-residual", pop("model_answer")),
        BLOCKS,
        "item 'explain-residual'",
        "model_answer",
        "missing",
    ),
    (
        "mcq-without-choices",
        item_edit("why-identity", pop("choices")),
        BLOCKS,
        "item 'why-identity'",
        "choices",
        "needs its options",
    ),
    (
        "mcq-without-a-correct-option",
        item_edit("why-identity", lambda e: e["choices"][0].update(correct=False)),
        BLOCKS,
        "item 'why-identity'",
        "choices",
        "no correct option",
    ),
    (
        "choice-without-why",
        item_edit("why-identity", lambda e: e["choices"][1].pop("why")),
        BLOCKS,
        "item 'why-identity'",
        "choices[1].why",
        "missing",
    ),
    (
        "duplicate-slug-across-files",
        file_edit("items/init.yaml", add_item(DUPLICATE)),
        "items/init.yaml",
        "item 'why-identity'",
        "slug",
        "duplicate slug: also used by the item in ",
    ),
    (
        "rubric-too-short",
        item_edit("explain-residual", lambda e: e["rubric"].pop()),
        BLOCKS,
        "item 'explain-residual'",
        "rubric",
        "needs 3 to 6 points, has 2",
    ),
    (
        "rubric-too-long",
        item_edit("explain-residual", set_(rubric=BAD_RUBRIC)),
        BLOCKS,
        "item 'explain-residual'",
        "rubric",
        "needs 3 to 6 points, has 7",
    ),
    (
        "latex-that-does-not-parse",
        item_edit("why-identity", set_(explanation="It learns $\\frac{1}$ only.")),
        BLOCKS,
        "item 'why-identity'",
        "explanation",
        "LaTeX does not render: KaTeX parse error",
    ),
    (
        "latex-unknown-macro-in-a-choice",
        item_edit("why-identity", lambda e: e["choices"][0].update(text="$\\residual x$")),
        BLOCKS,
        "item 'why-identity'",
        "choices[0].text",
        "Undefined control sequence",
    ),
    (
        "unknown-part",
        item_edit("why-identity", set_(part="transformers")),
        BLOCKS,
        "item 'why-identity'",
        "part",
        "unknown part 'transformers'",
    ),
    (
        "unknown-figure-key",
        item_edit("basic-block-params", set_(figures={"resnet50_parameters": 25557032})),
        BLOCKS,
        "item 'basic-block-params'",
        "figures.resnet50_parameters",
        "unknown figure key",
    ),
    (
        "unknown-figure-on-a-numeric-item",
        item_edit("basic-block-params", set_(figure="basic_block_params")),
        BLOCKS,
        "item 'basic-block-params'",
        "figure",
        "unknown figure key",
    ),
    (
        "unknown-item-in-a-mock",
        file_edit("mocks.yaml", lambda d: d["mocks"][0]["steps"][0].update(item="nope")),
        "mocks.yaml",
        "mock 'rapid-fire'",
        "steps[0].item",
        "unknown item 'nope'",
    ),
    (
        "unknown-exercise-in-a-mock",
        file_edit("mocks.yaml", lambda d: d["mocks"][1]["steps"][0].update(exercise="se")),
        "mocks.yaml",
        "mock 'implementation'",
        "steps[0].exercise",
        "unknown exercise 'se'",
    ),
    (
        "unknown-problem-in-the-plan",
        file_edit("plan.yaml", lambda d: d["days"][0]["tasks"][1].update(problem="nope")),
        "plan.yaml",
        "day '0'",
        "tasks[1].problem",
        "unknown problem 'nope'",
    ),
    (
        "unknown-item-in-the-plan",
        file_edit("plan.yaml", lambda d: d["days"][1]["tasks"][0].update(items=["nope"])),
        "plan.yaml",
        "day '3'",
        "tasks[0].items",
        "unknown item 'nope'",
    ),
    (
        "unknown-mock-in-the-plan",
        file_edit("plan.yaml", lambda d: d["days"][1]["tasks"][2].update(mock="nope")),
        "plan.yaml",
        "day '3'",
        "tasks[2].mock",
        "unknown mock 'nope'",
    ),
    (
        "plan-day-not-a-checkpoint",
        file_edit("plan.yaml", lambda d: d["days"][1].update(day=5)),
        "plan.yaml",
        "day '5'",
        "day",
        "must be one of 0, 3, 7, 14, 21",
    ),
    (
        "plan-day-with-two-tasks",
        file_edit("plan.yaml", lambda d: d["days"][0]["tasks"].pop()),
        "plan.yaml",
        "day '0'",
        "tasks",
        "needs exactly 3 tasks, has 2",
    ),
    (
        "unknown-field",
        item_edit("why-identity", set_(answr=3)),
        BLOCKS,
        "item 'why-identity'",
        "answr",
        "unknown field",
    ),
    (
        "hints-too-few",
        file_edit("problems.yaml", lambda d: d["problems"][0]["hints"].pop()),
        "problems.yaml",
        "problem 'bottleneck-cost'",
        "hints",
        "at least 2",
    ),
]


@pytest.mark.parametrize(
    ("change", "file", "entry", "field", "message"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_content_is_refused_with_a_precise_message(
    tmp_path, change, file, entry, field, message
):
    folder = copy_fixture(tmp_path)
    call_command("load_quizbank", str(folder), stdout=io.StringIO(), stderr=io.StringIO())
    before = snapshot()
    # A valid edit in the same change must not be written either.
    edit_yaml(
        folder / "exercises.yaml",
        lambda doc: doc["exercises"][0].update(title="An edited title"),
    )
    change(folder)

    stderr = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("load_quizbank", str(folder), stdout=io.StringIO(), stderr=stderr)

    assert caught.value.returncode == 1
    expected = f"{file}: {entry}, field '{field}': "
    lines = [line for line in stderr.getvalue().splitlines() if expected in line]
    assert lines, f"no line with {expected!r} in:\n{stderr.getvalue()}"
    assert any(message in line for line in lines), stderr.getvalue()
    assert snapshot() == before


def test_malformed_yaml_names_the_file_and_line(tmp_path):
    folder = copy_fixture(tmp_path)
    text = (folder / "mocks.yaml").read_text().replace('title: "Rapid fire"', "title: [oops")
    (folder / "mocks.yaml").write_text(text)

    stderr = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("load_quizbank", str(folder), stdout=io.StringIO(), stderr=stderr)

    assert caught.value.returncode == 1
    assert "mocks.yaml: malformed YAML at line" in stderr.getvalue()
    assert Item.objects.count() == 0


def test_every_problem_is_listed_not_only_the_first(tmp_path):
    folder = copy_fixture(tmp_path)
    item_edit("why-identity", pop("choices"))(folder)
    item_edit("basic-block-params", pop("unit"))(folder)

    stderr = io.StringIO()
    with pytest.raises(CommandError, match="2 content errors; nothing was loaded"):
        call_command("load_quizbank", str(folder), stdout=io.StringIO(), stderr=stderr)
    assert "field 'choices'" in stderr.getvalue() and "field 'unit'" in stderr.getvalue()


def test_a_second_chapter_declaration_is_refused(tmp_path):
    folder = copy_fixture(tmp_path)
    write("extra.yaml", "chapter:\n  slug: other\n  title: T\n  version: '1'\n")(folder)

    with pytest.raises(CommandError):
        call_command("load_quizbank", str(folder), stdout=io.StringIO(), stderr=io.StringIO())
    assert not Item.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (item_edit("why-identity", set_(kind=["multiple_choice"])), "kind"),
        (item_edit("why-identity", set_(part={"slug": "blocks"})), "part"),
        (item_edit("basic-block-params", set_(figure=["he_std_conv64"])), "figure"),
        (file_edit("skills.yaml", lambda d: d["skills"][0].update(parts=[["blocks"]])), "parts"),
        (
            file_edit("mocks.yaml", lambda d: d["mocks"][0]["steps"][0].update(item=["x"])),
            "steps[0].item",
        ),
        (
            file_edit("plan.yaml", lambda d: d["days"][0]["tasks"][0].update(parts=[{"a": 1}])),
            "tasks[0].parts",
        ),
        (item_edit("why-identity", set_(prompt=42)), "prompt"),
    ],
    ids=[
        "kind-list",
        "part-mapping",
        "figure-list",
        "skill-parts",
        "step-item",
        "task-parts",
        "int",
    ],
)
def test_values_of_the_wrong_type_are_reported_not_crashed_on(tmp_path, change, field):
    folder = copy_fixture(tmp_path)
    change(folder)
    stderr = io.StringIO()
    with pytest.raises(CommandError):
        call_command("load_quizbank", str(folder), stdout=io.StringIO(), stderr=stderr)
    assert f"field '{field}'" in stderr.getvalue(), stderr.getvalue()
