"""The implementation round graded inside the mock: runs from the attempt go through the
grading pipeline and belong to the attempt; the clock applies; the last saved code is
graded when the attempt ends; the review shows the verdict and its tests."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from grading.models import Submission, TestResult
from interviews import coding
from interviews import services as mock_services
from interviews.models import MockAttempt, MockRun
from quizbank.models import MockStep
from tests.grading.conftest import reference_solution
from tests.learning.factories_learner import make_content, make_user

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
CODE = reference_solution("basic-block")


@pytest.fixture
def content():
    content = make_content()
    MockStep.objects.create(script=content.mock, order=1, item=content.items["free"])
    MockStep.objects.create(script=content.mock, order=2, exercise=content.exercise)
    return content


@pytest.fixture
def ada(client):
    user = make_user("ada")
    client.force_login(user)
    return user


def ago(seconds: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=seconds)


def coding_step(attempt: MockAttempt) -> MockStep:
    return attempt.script.steps.get(exercise__isnull=False)


def run_url(attempt: MockAttempt, step: MockStep) -> str:
    return reverse("mock-run-code", args=[attempt.pk, step.pk])


def test_a_run_from_the_attempt_is_graded_by_the_pipeline_and_belongs_to_it(
    client,
    content,
    ada,
    broker,
):
    attempt = mock_services.mock_start(user=ada, script=content.mock, now=ago(10))
    step = coding_step(attempt)
    response = client.post(
        run_url(attempt, step), {f"text-{step.pk}": CODE, "kind": "sample"}, **HTMX
    )
    assert response.status_code == 200
    run = MockRun.objects.get(attempt=attempt, step=step)
    submission = run.submission
    assert (submission.user, submission.exercise, submission.kind) == (ada, "basic-block", "sample")
    assert submission.code == CODE and not run.at_end
    body = response.content.decode()
    assert f'hx-get="{reverse("submission-status", args=[submission.pk])}"' in body
    # the code is the step's answer, saved before the run
    assert attempt.answers.get(step=step).text == CODE


def test_the_attempt_page_has_the_editor_with_the_starter_and_the_run_buttons(client, content, ada):
    attempt = mock_services.mock_start(user=ada, script=content.mock, now=ago(10))
    step = coding_step(attempt)
    body = client.get(reverse("mock-attempt", args=[attempt.pk])).content.decode()
    from grading import catalog

    starter = catalog.exercise_get("basic-block").starter_code
    assert "class BasicBlock" in starter
    assert 'class="code-answer"' in body and "class BasicBlock" in body
    assert body.count(f'formaction="{run_url(attempt, step)}"') == 2  # sample and submit


def test_after_the_deadline_a_run_is_refused_and_nothing_is_graded(
    client,
    content,
    ada,
    broker,
):
    attempt = mock_services.mock_start(user=ada, script=content.mock, now=ago(700))  # 600 s
    step = coding_step(attempt)
    response = client.post(
        run_url(attempt, step), {f"text-{step.pk}": CODE, "kind": "submit"}, **HTMX
    )
    assert response.status_code == 409
    assert response["HX-Redirect"] == reverse("mock-review", args=[attempt.pk])
    # Only the end's own grading of the last saved code (none saved here): nothing at all.
    assert not Submission.objects.exists()


def test_code_the_pipeline_refuses_says_why_in_place(client, content, ada, broker):
    attempt = mock_services.mock_start(user=ada, script=content.mock, now=ago(10))
    step = coding_step(attempt)
    response = client.post(
        run_url(attempt, step), {f"text-{step.pk}": "x" * 70_000, "kind": "sample"}, **HTMX
    )
    assert "the limit is 65,536 bytes" in response.content.decode()
    assert not MockRun.objects.exists() and not Submission.objects.exists()


def test_another_learners_attempt_or_a_question_step_is_404(
    client,
    content,
    ada,
    broker,
):
    other = make_user("bob")
    theirs = mock_services.mock_start(user=other, script=content.mock, now=ago(10))
    response = client.post(run_url(theirs, coding_step(theirs)), {"kind": "sample"}, **HTMX)
    assert response.status_code == 404
    mine = mock_services.mock_start(user=ada, script=content.mock, now=ago(10))
    question = mine.script.steps.get(item__isnull=False)
    assert client.post(run_url(mine, question), {"kind": "sample"}, **HTMX).status_code == 404


def test_the_end_grades_the_last_saved_code_once_even_at_the_in_flight_limit(
    settings,
    content,
    ada,
    broker,
    django_capture_on_commit_callbacks,
):
    settings.GRADING_MAX_ACTIVE = 1
    attempt = mock_services.mock_start(user=ada, script=content.mock, now=ago(10))
    step = coding_step(attempt)
    mock_services.mock_autosave(attempt=attempt, step=step, text=CODE)
    with django_capture_on_commit_callbacks(execute=True):
        coding.coding_run(attempt=attempt, step=step, code=CODE, kind="sample")  # in flight
    edited = CODE + "\n# final edit\n"
    mock_services.mock_autosave(attempt=attempt, step=step, text=edited)
    with django_capture_on_commit_callbacks(execute=True):
        mock_services.mock_submit(attempt=attempt)
    final = MockRun.objects.get(attempt=attempt, step=step, at_end=True)
    assert final.submission.code == edited and final.submission.kind == "submit"
    assert [t.task for t in broker.take("grade.cpu")] == ["grading.grade_submission"] * 2
    assert coding.coding_grade_at_end(attempt_id=attempt.pk) == []  # once only
    assert MockRun.objects.filter(attempt=attempt, at_end=True).count() == 1


def test_the_end_grades_nothing_already_submitted_or_never_written(
    content,
    ada,
    broker,
    django_capture_on_commit_callbacks,
):
    submitted = mock_services.mock_start(user=ada, script=content.mock, now=ago(10))
    step = coding_step(submitted)
    mock_services.mock_autosave(attempt=submitted, step=step, text=CODE)
    coding.coding_run(attempt=submitted, step=step, code=CODE, kind="submit")
    with django_capture_on_commit_callbacks(execute=True):
        mock_services.mock_submit(attempt=submitted)
    assert not MockRun.objects.filter(at_end=True).exists()

    untouched = mock_services.mock_start(user=make_user("cy"), script=content.mock, now=ago(10))
    starter = coding.coding_starter(step=coding_step(untouched))
    mock_services.mock_autosave(attempt=untouched, step=coding_step(untouched), text=starter)
    with django_capture_on_commit_callbacks(execute=True):
        mock_services.mock_submit(attempt=untouched)
    assert not MockRun.objects.filter(attempt=untouched).exists()


def test_an_expired_attempt_grades_its_last_autosave(
    client,
    content,
    ada,
    broker,
    django_capture_on_commit_callbacks,
):
    attempt = mock_services.mock_start(user=ada, script=content.mock, now=ago(700))
    step = coding_step(attempt)
    mock_services.mock_autosave(attempt=attempt, step=step, text=CODE, now=ago(300))
    with django_capture_on_commit_callbacks(execute=True):
        review = client.get(reverse("mock-review", args=[attempt.pk]))
    assert review.status_code == 200
    final = MockRun.objects.get(attempt=attempt, at_end=True)
    assert final.submission.code == CODE
    attempt.refresh_from_db()
    assert attempt.end_reason == "expired"


def test_the_review_shows_the_verdict_and_its_tests_beside_the_code(
    client,
    content,
    ada,
    broker,
):
    attempt = mock_services.mock_start(user=ada, script=content.mock, now=ago(10))
    step = coding_step(attempt)
    mock_services.mock_autosave(attempt=attempt, step=step, text=CODE)
    run = coding.coding_run(attempt=attempt, step=step, code=CODE, kind="submit")
    submission = run.submission
    Submission.objects.filter(pk=submission.pk).update(
        status="failed", passed=1, total=2, score=0.5, message="1 of 2 tests passed."
    )
    TestResult.objects.create(submission=submission, order=0, name="output shape stride 2",
                              category="shape", passed=True)  # fmt: skip
    TestResult.objects.create(submission=submission, order=1, name="gradient wrt input",
                              category="gradient", passed=False, message="differs")  # fmt: skip
    mock_services.mock_submit(attempt=attempt)
    body = client.get(reverse("mock-review", args=[attempt.pk])).content.decode()
    assert "Your code" in body and "class BasicBlock" in body
    assert "1/2 tests" in body and "gradient wrt input" in body and "output shape stride 2" in body
    assert "Your last submission during the mock." in body
