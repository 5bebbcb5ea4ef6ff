"""The loader on the small fixture chapter: upsert by slug, idempotence, retiring, atomicity."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import LearnerProfile
from interviews.models import MockAnswer, MockAttempt
from learning.models import ReviewLogEntry
from quizbank import content_latex
from quizbank.content_source import ContentError
from quizbank.loader import bank_load
from quizbank.models import (
    Chapter,
    ExerciseStatement,
    Item,
    MockScript,
    Part,
    Problem,
    ReviewDay,
    ReviewTask,
    Skill,
)
from tests.quizbank.loading import FIXTURE, copy_fixture, edit_yaml, find, snapshot

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def load(folder: Path) -> str:
    out = io.StringIO()
    call_command("load_quizbank", str(folder), stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_loading_the_fixture_creates_every_kind_of_row():
    output = load(FIXTURE)

    chapter = Chapter.objects.get(slug="mini")
    assert chapter.version == "2026.11.1" and chapter.content_hash
    assert list(Part.objects.values_list("slug", flat=True)) == ["blocks", "init"]
    assert Skill.objects.count() == 2
    assert set(Skill.objects.get(slug="count-params").parts.values_list("slug", flat=True)) == {
        "blocks"
    }
    assert Item.objects.count() == 5
    assert Item.objects.filter(cheat_sheet=True).count() == 2
    numeric = Item.objects.get(slug="basic-block-params")
    assert (numeric.answer_number, numeric.unit, numeric.tolerance_mode) == (
        73984,
        "parameters",
        "absolute",
    )
    mcq = Item.objects.get(slug="why-identity")
    assert [c.correct for c in mcq.choices.all()] == [True, False]
    assert all(c.why for c in mcq.choices.all())
    free = Item.objects.get(slug="explain-residual")
    assert free.rubric.count() == 3 and free.traps[0]["phrase"] == "overfitting"
    ordering = Item.objects.get(slug="basic-block-order")
    assert [c.text for c in ordering.choices.all()][:3] == ["3x3 conv", "BatchNorm", "ReLU"]
    problem = Problem.objects.get(slug="bottleneck-cost")
    assert problem.hints.count() == 2 and "69632" in problem.solution
    assert ExerciseStatement.objects.get(slug="basic-block").part.slug == "blocks"
    rapid = MockScript.objects.get(slug="rapid-fire")
    assert [s.item.slug for s in rapid.steps.all()] == ["basic-block-params", "he-std"]
    assert rapid.steps.first().interviewer_note.startswith("exact count")
    assert MockScript.objects.get(slug="implementation").steps.get().exercise.slug == "basic-block"
    assert list(ReviewDay.objects.values_list("day", flat=True)) == [0, 3]
    day0 = ReviewDay.objects.get(day=0)
    assert [t.slug for t in day0.tasks.all()] == ["d0-cards", "d0-problem", "d0-draw"]
    # `parts: [blocks]` resolved to the items of that part at load time.
    assert set(day0.tasks.get(slug="d0-cards").items.values_list("slug", flat=True)) == {
        "basic-block-params",
        "why-identity",
        "explain-residual",
        "basic-block-order",
    }
    assert day0.tasks.get(slug="d0-problem").problem == problem
    assert ReviewTask.objects.get(slug="d3-mock").mock == rapid
    assert "items: created 5, updated 0, unchanged 0, retired 0" in output


def test_a_second_load_writes_nothing():
    load(FIXTURE)
    before = snapshot()

    output = load(FIXTURE)

    assert snapshot() == before
    for line in output.splitlines()[1:]:
        assert "created 0, updated 0" in line and line.endswith("retired 0"), line
    assert "items: created 0, updated 0, unchanged 5, retired 0" in output


def test_an_edited_item_is_updated_in_place(tmp_path):
    folder = copy_fixture(tmp_path)
    load(folder)
    item = Item.objects.get(slug="why-identity")
    choice_ids = list(item.choices.values_list("pk", flat=True))

    def change(doc):
        entry = find(doc["items"], "why-identity")
        entry["prompt"] = "What does the stacked layer of a residual block fit?"
        entry["choices"][1]["text"] = "The whole mapping $H(x)$"

    edit_yaml(folder / "items" / "blocks.yaml", change)
    output = load(folder)

    item.refresh_from_db()
    assert item.prompt == "What does the stacked layer of a residual block fit?"
    assert list(item.choices.values_list("pk", flat=True)) == choice_ids
    assert item.choices.get(order=1).text == "The whole mapping $H(x)$"
    assert "items: created 0, updated 1, unchanged 4, retired 0" in output


def test_fewer_choices_after_an_edit_drop_the_extra_rows(tmp_path):
    folder = copy_fixture(tmp_path)
    load(folder)

    def change(doc):
        find(doc["items"], "basic-block-order")["steps"] = ["conv", "BatchNorm", "ReLU"]

    edit_yaml(folder / "items" / "blocks.yaml", change)
    load(folder)

    steps = Item.objects.get(slug="basic-block-order").choices.all()
    assert [c.text for c in steps] == ["conv", "BatchNorm", "ReLU"]
    assert [c.order for c in steps] == [0, 1, 2]


def test_a_removed_item_is_retired_and_the_learners_history_survives(tmp_path):
    folder = copy_fixture(tmp_path)
    load(folder)
    item = Item.objects.get(slug="why-identity")
    user = get_user_model().objects.create_user("learner", password="x-Long-enough-1")
    profile = LearnerProfile.objects.create(user=user, time_zone="Europe/Berlin")
    log = ReviewLogEntry.objects.create(
        user=user,
        item=item,
        rating=ReviewLogEntry.Rating.GOOD,
        reviewed_at=timezone.now(),
        source=ReviewLogEntry.Source.PRACTICE,
        counted=True,
        correct=True,
    )

    edit_yaml(
        folder / "items" / "blocks.yaml",
        lambda doc: doc["items"].remove(find(doc["items"], "why-identity")),
    )
    output = load(folder)

    item.refresh_from_db()
    assert item.retired is True
    assert item.choices.count() == 2  # the retired item keeps its options for the history
    log.refresh_from_db()
    assert log.item_id == item.pk
    assert LearnerProfile.objects.get(pk=profile.pk).time_zone == "Europe/Berlin"
    # The two items after it in the part move up one place, which is an update.
    assert "items: created 0, updated 2, unchanged 2, retired 1" in output
    # A plan task that names the part no longer practises the retired item.
    task_items = ReviewTask.objects.get(slug="d0-cards").items.values_list("slug", flat=True)
    assert "why-identity" not in set(task_items)

    load(FIXTURE)  # the item comes back under the same slug: same row, active again
    item.refresh_from_db()
    assert item.retired is False


def test_removed_problems_mocks_skills_days_and_tasks_are_retired_not_deleted(tmp_path):
    folder = copy_fixture(tmp_path)
    load(folder)
    (folder / "problems.yaml").unlink()
    edit_yaml(folder / "skills.yaml", lambda doc: doc["skills"].pop())

    def drop(doc):
        doc["days"].pop()  # day 3 with its mock task
        doc["days"][0]["tasks"][1] = {"slug": "d0-manual", "title": "Recite", "kind": "manual"}

    edit_yaml(folder / "plan.yaml", drop)
    edit_yaml(folder / "mocks.yaml", lambda doc: doc["mocks"].pop(0))

    output = load(folder)

    assert Problem.objects.get(slug="bottleneck-cost").retired
    assert Skill.objects.get(slug="explain-he-init").retired
    assert MockScript.objects.get(slug="rapid-fire").retired
    assert ReviewDay.objects.get(day=3).retired
    assert ReviewTask.objects.get(slug="d0-problem").retired
    assert set(ReviewTask.objects.filter(retired=True).values_list("slug", flat=True)) == {
        "d0-problem",
        "d3-cards",
        "d3-exercise",
        "d3-mock",
    }
    assert "tasks: created 1, updated 0, unchanged 2, retired 4" in output
    assert "problems: created 0, updated 0, unchanged 0, retired 1" in output


def test_the_summary_counts_each_kind():
    output = load(FIXTURE)

    lines = output.splitlines()
    assert lines[0] == "loaded mini"
    assert lines[1:] == [
        "parts: created 2, updated 0, unchanged 0, retired 0",
        "skills: created 2, updated 0, unchanged 0, retired 0",
        "items: created 5, updated 0, unchanged 0, retired 0",
        "problems: created 1, updated 0, unchanged 0, retired 0",
        "exercises: created 1, updated 0, unchanged 0, retired 0",
        "mocks: created 2, updated 0, unchanged 0, retired 0",
        "days: created 2, updated 0, unchanged 0, retired 0",
        "tasks: created 6, updated 0, unchanged 0, retired 0",
    ]


def test_without_node_the_structural_latex_check_runs_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(content_latex, "node_path", lambda: None)
    report = bank_load(folders=[FIXTURE])
    assert report.chapters == ["mini"]
    assert len(report.warnings) == 1 and "node not found" in report.warnings[0]

    folder = copy_fixture(tmp_path)
    edit_yaml(
        folder / "problems.yaml",
        lambda doc: doc["problems"][0].update(solution="$$\\frac{1}{2$$ and $x$"),
    )
    with pytest.raises(ContentError) as caught:
        bank_load(folders=[folder])
    assert "field 'solution'" in str(caught.value)


def test_dumpdata_gives_the_whole_bank_as_json():
    load(FIXTURE)
    out = io.StringIO()
    call_command("dumpdata", "quizbank", stdout=out)

    rows = json.loads(out.getvalue())
    models = {row["model"] for row in rows}
    assert {"quizbank.item", "quizbank.choice", "quizbank.reviewtask", "quizbank.hint"} <= models
    item_slugs = {row["fields"]["slug"] for row in rows if row["model"] == "quizbank.item"}
    assert item_slugs == set(Item.objects.values_list("slug", flat=True))


@pytest.mark.postgres
def test_the_loader_loads_reloads_and_retires_on_postgres(postgres, tmp_path):
    folder = copy_fixture(tmp_path)
    load(folder)
    before = snapshot()
    assert "created 0, updated 0" in load(folder).splitlines()[3]
    assert snapshot() == before

    (folder / "items" / "init.yaml").write_text("items: []\n")
    edit_yaml(
        folder / "plan.yaml",
        lambda doc: doc["days"][1]["tasks"][0].update(items=[], parts=["blocks"]),
    )
    edit_yaml(folder / "mocks.yaml", lambda doc: doc["mocks"][0]["steps"].pop())
    output = load(folder)
    assert Item.objects.get(slug="he-std").retired
    assert "items: created 0, updated 0, unchanged 4, retired 1" in output


def test_the_command_line_exits_1_and_names_the_problem(tmp_path):
    """Through manage.py: bad content is refused before the database is touched."""
    folder = copy_fixture(tmp_path)
    edit_yaml(
        folder / "items" / "blocks.yaml",
        lambda doc: find(doc["items"], "why-identity")["choices"][0].update(correct=False),
    )
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "VAR_DIR": str(tmp_path / "var"),
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    done = subprocess.run(
        [*manage, "load_quizbank", str(folder)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "items/blocks.yaml: item 'why-identity', field 'choices': no correct option" in (
        done.stderr
    )
    assert "nothing was loaded" in done.stderr

    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
    done = subprocess.run(
        [*manage, "load_quizbank", str(FIXTURE)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "items: created 5, updated 0, unchanged 0, retired 0" in done.stdout


def _answer_first_step(script_slug: str) -> MockAnswer:
    user = get_user_model().objects.create_user("candidate", password="x-Long-enough-1")
    script = MockScript.objects.get(slug=script_slug)
    attempt = MockAttempt.objects.create(user=user, script=script, started_at=timezone.now())
    return MockAnswer.objects.create(
        attempt=attempt, step=script.steps.first(), text="73,984", saved_at=timezone.now()
    )


def test_reordering_a_mock_keeps_each_answer_on_its_question(tmp_path):
    folder = copy_fixture(tmp_path)
    load(folder)
    answer = _answer_first_step("rapid-fire")
    assert answer.step.item.slug == "basic-block-params"

    edit_yaml(folder / "mocks.yaml", lambda doc: doc["mocks"][0]["steps"].reverse())
    load(folder)

    answer.refresh_from_db()
    assert answer.step.item.slug == "basic-block-params"
    assert answer.step.order == 1
    steps = MockScript.objects.get(slug="rapid-fire").steps.all()
    assert [s.item.slug for s in steps] == ["he-std", "basic-block-params"]


def test_dropping_an_answered_mock_step_is_refused_and_nothing_is_written(tmp_path):
    folder = copy_fixture(tmp_path)
    load(folder)
    _answer_first_step("rapid-fire")
    before = snapshot()

    edit_yaml(folder / "mocks.yaml", lambda doc: doc["mocks"][0]["steps"].pop(0))
    edit_yaml(folder / "exercises.yaml", lambda doc: doc["exercises"][0].update(title="New"))
    stderr = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("load_quizbank", str(folder), stdout=io.StringIO(), stderr=stderr)

    assert caught.value.returncode == 1
    assert "mock 'rapid-fire', field 'steps': step 1" in stderr.getvalue()
    assert "has learners' answers" in stderr.getvalue()
    assert snapshot() == before
