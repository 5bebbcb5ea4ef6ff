"""The implementation round, graded inside the mock.

An exercise step's answer is the learner's code, autosaved like any answer. "Run sample
tests" and "Submit" on the step make a grading through the same pipeline as the
exercise page (grading.services.submission_create) and link it to the attempt and step
(MockRun). When the attempt ends, by the learner or by the clock, the last saved code of
each exercise step is graded as a submission unless exactly that code was already
submitted; that grading is not counted against the learner's in-flight limit, since
they cannot postpone it. The review shows each step's latest submission beside the
rubric.

This module writes MockRun rows and reads the attempt's answers; the clock and the
answers' writes stay in interviews.services, which calls `coding_grade_at_end`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction

from grading import catalog
from grading import services as grading_services
from grading.models import Submission
from interviews.models import MockAnswer, MockAttempt, MockRun
from quizbank.models import MockStep

log = logging.getLogger(__name__)


class CodingRefused(ValueError):
    """The run is not made; the message says why (for the learner)."""


def coding_steps(*, attempt: MockAttempt) -> list[MockStep]:
    """The attempt's exercise steps, in order."""
    return list(
        attempt.script.steps.filter(exercise__isnull=False)
        .select_related("exercise")
        .order_by("order", "pk")
    )


def coding_starter(*, step: MockStep) -> str:
    """What the editor holds before the learner writes anything: the exercise's starter."""
    try:
        return catalog.exercise_get(step.exercise.slug).starter_code
    except (KeyError, AttributeError):
        return ""


def coding_run(*, attempt: MockAttempt, step: MockStep, code: str, kind: str) -> MockRun:
    """Grade `code` for this exercise step now (sample tests or a submission).

    The caller has saved the code as the step's answer (which refuses once the attempt is
    closed). Raises CodingRefused when grading refuses the code or the learner has too
    many runs in flight.
    """
    if step.script_id != attempt.script_id or step.exercise_id is None:
        raise CodingRefused("That question is not an implementation step of this mock.")
    if kind not in Submission.Kind.values:
        raise CodingRefused(f"Unknown kind {kind!r}: use 'sample' or 'submit'.")
    try:
        submission = grading_services.submission_create(
            user=attempt.user, exercise=step.exercise.slug, code=code, kind=kind
        )
    except grading_services.SubmissionRefused as exc:
        raise CodingRefused(str(exc)) from None
    return MockRun.objects.create(attempt=attempt, step=step, submission=submission)


def coding_grade_at_end(*, attempt_id: int) -> list[MockRun]:
    """Grade the last saved code of every exercise step of an ended attempt, once.

    Skipped for a step whose answer is empty or still the starter code, and for one whose
    latest submission already graded exactly the saved code. Safe to call twice: a step
    with an at-end run is not graded again.
    """
    attempt = MockAttempt.objects.select_related("script", "user").get(pk=attempt_id)
    if attempt.ended_at is None:
        return []
    made = []
    for step in coding_steps(attempt=attempt):
        answer = MockAnswer.objects.filter(attempt=attempt, step=step).first()
        code = answer.text if answer is not None else ""
        if not code.strip() or code.strip() == coding_starter(step=step).strip():
            continue
        runs = MockRun.objects.filter(attempt=attempt, step=step)
        if runs.filter(at_end=True).exists():
            continue
        last = (
            runs.filter(submission__kind=Submission.Kind.SUBMIT)
            .select_related("submission")
            .order_by("-created_at", "-id")
            .first()
        )
        if last is not None and last.submission.code == code:
            continue
        with transaction.atomic():
            try:
                submission = grading_services.submission_create(
                    user=attempt.user,
                    exercise=step.exercise.slug,
                    code=code,
                    kind=Submission.Kind.SUBMIT,
                    limited=False,
                )
            except grading_services.SubmissionRefused as exc:
                made.append(
                    MockRun.objects.create(
                        attempt=attempt, step=step, at_end=True, refused=str(exc)
                    )
                )
                continue
            made.append(
                MockRun.objects.create(
                    attempt=attempt, step=step, submission=submission, at_end=True
                )
            )
    if made:
        log.info(
            "mock attempt %s: graded %d implementation step(s) at its end", attempt_id, len(made)
        )
    return made


@dataclass(frozen=True)
class StepRuns:
    latest: MockRun | None  # the newest run of any kind: what the attempt page shows
    graded: MockRun | None  # the newest submission (or refused final grading): the review's


def coding_runs(*, attempt: MockAttempt) -> dict[int, StepRuns]:
    """Per exercise step id, its newest run and its newest graded submission."""
    runs = (
        MockRun.objects.filter(attempt=attempt)
        .select_related("submission")
        .prefetch_related("submission__tests")
        .order_by("-created_at", "-id")
    )
    latest: dict[int, MockRun] = {}
    graded: dict[int, MockRun] = {}
    for run in runs:
        latest.setdefault(run.step_id, run)
        if run.submission is None or run.submission.kind == Submission.Kind.SUBMIT:
            graded.setdefault(run.step_id, run)
    steps = set(latest) | set(graded)
    return {s: StepRuns(latest=latest.get(s), graded=graded.get(s)) for s in steps}
