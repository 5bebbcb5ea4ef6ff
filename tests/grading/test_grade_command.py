"""`manage.py grade EXERCISE FILE [--json]`: real gradings in the Docker sandbox, exit codes."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from grading import services
from grading.models import Submission
from tests.grading.conftest import (
    SE_BLOCK_SOLUTION,
    SE_BLOCK_SYNTAX_ERROR,
    SE_BLOCK_WITHOUT_SIGMOID,
    all_slugs,
    reference_solution,
)

pytestmark = pytest.mark.django_db


def grade(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("grade", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def docker_sandbox(sandbox_image, settings):
    settings.SANDBOX_BACKEND = "docker"
    settings.SANDBOX_IMAGE = sandbox_image
    return sandbox_image


def test_the_eight_exercises_have_reference_solutions_to_grade():
    from grading.engine import exercise_list

    assert all_slugs() == sorted(spec.slug for spec in exercise_list())


@pytest.mark.docker
@pytest.mark.parametrize("slug", all_slugs())
def test_a_correct_solution_passes_every_test_and_exits_0(docker_sandbox, tmp_path, slug):
    path = tmp_path / "solution.py"
    path.write_text(reference_solution(slug))
    code, out, err = grade(slug, str(path), "--json")
    verdict = json.loads(out)
    assert code == 0, (out, err)
    assert verdict["status"] == "passed" and verdict["score"] == 1.0
    assert verdict["passed"] == verdict["total"] == len(verdict["tests"]) > 0
    assert all(set(t) == {"name", "category", "passed", "message"} for t in verdict["tests"])
    assert verdict["backend"] == "docker"
    submission = Submission.objects.get(pk=verdict["submission"])
    assert submission.user.username == services.CLI_USERNAME and not submission.user.is_active


@pytest.mark.docker
def test_a_wrong_solution_fails_some_tests_and_exits_1(docker_sandbox, tmp_path):
    path = tmp_path / "se.py"
    path.write_text(SE_BLOCK_WITHOUT_SIGMOID)
    code, out, _ = grade("se-block", str(path))
    assert code == 1
    assert out.startswith("se-block: FAILED")
    assert "PASS" in out and "FAIL" in out  # shapes pass, values do not


def test_a_syntax_error_exits_1_with_the_error_shown(docker_sandbox, tmp_path):
    path = tmp_path / "se.py"
    path.write_text(SE_BLOCK_SYNTAX_ERROR)
    code, out, _ = grade("se-block", str(path), "--json")
    verdict = json.loads(out)
    assert code == 1 and verdict["status"] == "error" and verdict["error_kind"] == "syntax"
    assert "SyntaxError" in verdict["stderr_excerpt"]


def test_an_unknown_exercise_exits_2(tmp_path):
    path = tmp_path / "se.py"
    path.write_text(SE_BLOCK_SOLUTION)
    code, _, err = grade("no-such-exercise", str(path))
    assert code == 2 and "unknown exercise 'no-such-exercise'" in err and "se-block" in err
    assert Submission.objects.count() == 0


def test_an_unreadable_file_exits_2(tmp_path):
    code, _, err = grade("se-block", str(tmp_path / "missing.py"))
    assert code == 2 and "cannot read" in err


def test_a_file_that_is_not_utf8_exits_2_without_grading(tmp_path, docker_sandbox):
    path = tmp_path / "se.py"
    path.write_bytes(b"x = '\xff'\n")
    code, _, err = grade("se-block", str(path))
    assert code == 2 and "not valid UTF-8" in err
    assert Submission.objects.count() == 0


def test_no_sandbox_exits_2(tmp_path, settings):
    path = tmp_path / "se.py"
    path.write_text(SE_BLOCK_SOLUTION)
    settings.SANDBOX_BACKEND = "none"
    code, _, err = grade("se-block", str(path))
    assert code == 2 and "no sandbox available" in err and "SANDBOX_BACKEND=none" in err
