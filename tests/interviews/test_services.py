"""Mock-interview services on an explicit clock: `now` moves, nothing is patched."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from interviews import selectors as mock_selectors
from interviews import services as mock_services
from interviews.clock import GRACE
from interviews.models import MockAnswer, MockAttempt
from interviews.services import MockAlreadyRunning, MockClosed, MockError
from learning import services
from learning.models import TaskCompletion
from quizbank.models import MockScript, MockStep
from tests.learning.factories_learner import make_content, make_user

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@pytest.fixture
def content():
    """The learner factory's content, its rapid-fire script given two steps: the
    free-text degradation question (trap: overfitting) and the basic-block exercise."""
    content = make_content()
    MockStep.objects.create(
        script=content.mock, order=1, item=content.items["free"], interviewer_note="Training."
    )
    MockStep.objects.create(script=content.mock, order=2, exercise=content.exercise)
    return content


def steps(attempt: MockAttempt) -> list[MockStep]:
    return list(attempt.script.steps.order_by("order"))


def test_deadline_is_start_plus_duration_times_factor(content):
    standard = mock_services.mock_start(user=make_user("a"), script=content.mock, now=T0)
    extra = mock_services.mock_start(
        user=make_user("b"), script=content.mock, time_factor=1.5, now=T0
    )
    double = mock_services.mock_start(
        user=make_user("c"), script=content.mock, time_factor=2.0, now=T0
    )
    assert standard.started_at == T0
    assert standard.deadline == at(600)
    assert extra.deadline == at(900)
    assert double.deadline == at(1200)


def test_an_untimed_attempt_has_no_deadline_and_never_expires(content):
    user = make_user()
    attempt = mock_services.mock_start(user=user, script=content.mock, untimed=True, now=T0)
    assert attempt.deadline is None
    assert mock_selectors.mock_attempt_remaining(attempt=attempt, now=T0) is None
    late = T0 + dt.timedelta(days=2)
    mock_services.mock_expire_if_due(attempt=attempt, now=late)
    step = steps(attempt)[0]
    mock_services.mock_autosave(attempt=attempt, step=step, text="two days later", now=late)
    attempt.refresh_from_db()
    assert attempt.ended_at is None
    assert MockAnswer.objects.get(attempt=attempt, step=step).text == "two days later"


def test_start_refuses_an_unknown_time_factor_and_a_retired_script(content):
    user = make_user()
    with pytest.raises(MockError):
        mock_services.mock_start(user=user, script=content.mock, time_factor=0.5, now=T0)
    content.mock.retired = True
    content.mock.save()
    with pytest.raises(MockError):
        mock_services.mock_start(user=user, script=content.mock, now=T0)
    assert not MockAttempt.objects.exists()


def test_start_creates_one_empty_answer_per_step(content):
    attempt = mock_services.mock_start(user=make_user(), script=content.mock, now=T0)
    answers = list(attempt.answers.order_by("step__order"))
    assert [a.step_id for a in answers] == [s.pk for s in steps(attempt)]
    assert all(a.text == "" and a.saved_at == T0 for a in answers)


def test_autosave_before_the_deadline_saves_and_stamps_the_time(content):
    attempt = mock_services.mock_start(user=make_user(), script=content.mock, now=T0)
    step = steps(attempt)[0]
    mock_services.mock_autosave(attempt=attempt, step=step, text="first", now=at(30))
    answer = mock_services.mock_autosave(attempt=attempt, step=step, text="second", now=at(599))
    answer.refresh_from_db()
    assert answer.text == "second"
    assert answer.saved_at == at(599)
    assert MockAnswer.objects.filter(attempt=attempt, step=step).count() == 1


def test_autosave_after_the_deadline_is_refused_with_a_message_and_keeps_the_text(content):
    user = make_user()
    attempt = mock_services.mock_start(user=user, script=content.mock, now=T0)
    step = steps(attempt)[0]
    mock_services.mock_autosave(attempt=attempt, step=step, text="in time", now=at(590))
    late = attempt.deadline + GRACE + dt.timedelta(seconds=1)
    with pytest.raises(MockClosed) as refused:
        mock_services.mock_autosave(attempt=attempt, step=step, text="too late", now=late)
    assert "Time ran out at 09:10:00" in str(refused.value)
    assert "not accepted" in str(refused.value)
    answer = MockAnswer.objects.get(attempt=attempt, step=step)
    assert answer.text == "in time"
    assert answer.saved_at == at(590)
    # the refusal does not undo the lazy expiry it triggered
    attempt.refresh_from_db()
    assert attempt.end_reason == MockAttempt.EndReason.EXPIRED
    assert attempt.ended_at == attempt.deadline


def test_autosave_within_the_grace_after_the_deadline_still_counts(content):
    attempt = mock_services.mock_start(user=make_user(), script=content.mock, now=T0)
    step = steps(attempt)[0]
    just_late = attempt.deadline + GRACE - dt.timedelta(milliseconds=200)
    mock_services.mock_autosave(attempt=attempt, step=step, text="in flight", now=just_late)
    assert MockAnswer.objects.get(attempt=attempt, step=step).text == "in flight"


def test_the_refusal_message_uses_the_learners_time_zone(content):
    user = make_user(time_zone="Europe/Paris")
    attempt = mock_services.mock_start(user=user, script=content.mock, now=T0)
    with pytest.raises(MockClosed, match="10:10:00"):
        mock_services.mock_autosave(attempt=attempt, step=steps(attempt)[0], text="x", now=at(3600))


def test_autosave_refuses_a_step_of_another_script(content):
    attempt = mock_services.mock_start(user=make_user(), script=content.mock, now=T0)
    other = MockScript.objects.create(
        chapter=content.chapter, slug="other", title="Other", kind="rapid_fire", duration_s=60
    )
    foreign = MockStep.objects.create(script=other, order=1, item=content.items["free"])
    with pytest.raises(MockError):
        mock_services.mock_autosave(attempt=attempt, step=foreign, text="x", now=at(1))
    assert not MockAnswer.objects.filter(step=foreign).exists()


def test_autosave_after_submit_is_refused(content):
    attempt = mock_services.mock_start(user=make_user(), script=content.mock, now=T0)
    step = steps(attempt)[0]
    mock_services.mock_autosave(attempt=attempt, step=step, text="final", now=at(100))
    mock_services.mock_submit(attempt=attempt, now=at(120))
    with pytest.raises(MockClosed, match="submitted at 09:02:00"):
        mock_services.mock_autosave(attempt=attempt, step=step, text="edited", now=at(130))
    assert MockAnswer.objects.get(attempt=attempt, step=step).text == "final"


def test_remaining_time_counts_down_on_the_server_clock(content):
    attempt = mock_services.mock_start(user=make_user(), script=content.mock, now=T0)
    assert mock_selectors.mock_attempt_remaining(attempt=attempt, now=T0) == 600
    assert mock_selectors.mock_attempt_remaining(attempt=attempt, now=at(599.5)) == 0.5
    assert mock_selectors.mock_attempt_remaining(attempt=attempt, now=at(450)) == 150
    assert mock_selectors.mock_attempt_remaining(attempt=attempt, now=at(700)) == 0


def test_submit_ends_the_attempt_now_and_is_idempotent(content):
    attempt = mock_services.mock_start(user=make_user(), script=content.mock, now=T0)
    ended = mock_services.mock_submit(attempt=attempt, now=at(200))
    assert ended.ended_at == at(200)
    assert ended.end_reason == MockAttempt.EndReason.SUBMITTED
    again = mock_services.mock_submit(attempt=attempt, now=at(300))
    assert again.ended_at == at(200)


def test_a_submit_after_the_deadline_ends_as_expired_at_the_deadline(content):
    attempt = mock_services.mock_start(user=make_user(), script=content.mock, now=T0)
    ended = mock_services.mock_submit(attempt=attempt, now=at(601))
    assert ended.end_reason == MockAttempt.EndReason.EXPIRED
    assert ended.ended_at == attempt.deadline


def test_lazy_expiry_ends_the_attempt_at_the_deadline_with_the_last_autosave(content):
    attempt = mock_services.mock_start(user=make_user(), script=content.mock, now=T0)
    step = steps(attempt)[0]
    mock_services.mock_autosave(attempt=attempt, step=step, text="draft one", now=at(100))
    mock_services.mock_autosave(attempt=attempt, step=step, text="last autosave", now=at(500))
    not_yet = mock_services.mock_expire_if_due(attempt=attempt, now=at(600))
    assert not_yet.ended_at is None
    # the learner closed the tab; they come back an hour later
    ended = mock_services.mock_expire_if_due(attempt=attempt, now=at(3600))
    assert ended.ended_at == at(600)
    assert ended.end_reason == MockAttempt.EndReason.EXPIRED
    assert MockAnswer.objects.get(attempt=attempt, step=step).text == "last autosave"


def test_expire_due_for_user_finalises_only_that_learners_overdue_attempts(content):
    ada, bob = make_user("ada"), make_user("bob")
    longer = MockScript.objects.create(
        chapter=content.chapter, slug="long", title="Long", kind="rapid_fire", duration_s=1200
    )
    overdue = mock_services.mock_start(user=ada, script=content.mock, now=T0)
    running = mock_services.mock_start(user=ada, script=longer, now=T0)
    others = mock_services.mock_start(user=bob, script=content.mock, now=T0)
    done = mock_services.mock_expire_due_for_user(user=ada, now=at(700))
    assert [a.pk for a in done] == [overdue.pk]
    for attempt in (overdue, running, others):
        attempt.refresh_from_db()
    assert overdue.end_reason == MockAttempt.EndReason.EXPIRED
    assert running.ended_at is None
    assert others.ended_at is None


def test_the_end_flags_traps_and_pre_ticks_rubric_points_by_keyword(content):
    attempt = mock_services.mock_start(user=make_user(), script=content.mock, now=T0)
    step = steps(attempt)[0]
    mock_services.mock_autosave(
        attempt=attempt,
        step=step,
        text="The TRAINING ERROR goes up with depth, so it must be Overfitting.",
        now=at(60),
    )
    mock_services.mock_submit(attempt=attempt, now=at(90))
    answer = MockAnswer.objects.get(attempt=attempt, step=step)
    assert answer.traps_hit == ["overfitting"]
    rubric = {p.text: p.pk for p in content.items["free"].rubric.all()}
    assert answer.rubric_ticked == [rubric["Training error rises with depth"]]

    summary = mock_selectors.mock_review_rows(attempt=attempt)
    row = summary.rows[0]
    assert [t.phrase for t in row.traps] == ["overfitting"]
    assert row.traps[0].why == "Training error rises too."
    assert [r.ticked for r in row.rubric] == [True, False, False]
    assert (summary.answered, summary.questions) == (1, 2)
    assert (summary.points_covered, summary.points_total, summary.traps_hit) == (1, 3, 1)


def test_saying_what_it_is_not_is_no_trap(content):
    attempt = mock_services.mock_start(user=make_user(), script=content.mock, now=T0)
    step = steps(attempt)[0]
    mock_services.mock_autosave(
        attempt=attempt, step=step, text="Training error rises: not overfitting.", now=at(60)
    )
    mock_services.mock_submit(attempt=attempt, now=at(90))
    answer = MockAnswer.objects.get(attempt=attempt, step=step)
    assert answer.traps_hit == []
    assert len(answer.rubric_ticked) == 2


def test_self_review_replaces_the_pre_ticks_and_ignores_foreign_ids(content):
    attempt = mock_services.mock_start(user=make_user(), script=content.mock, now=T0)
    step = steps(attempt)[0]
    mock_services.mock_autosave(attempt=attempt, step=step, text="training error", now=at(5))
    with pytest.raises(MockError):
        mock_services.mock_review(attempt=attempt, ticks={}, now=at(10))
    mock_services.mock_submit(attempt=attempt, now=at(10))
    points = [p.pk for p in content.items["free"].rubric.order_by("order")]
    foreign = content.items["mc"].pk + 10_000
    mock_services.mock_review(
        attempt=attempt, ticks={step.pk: [points[1], points[2], foreign]}, now=at(20)
    )
    answer = MockAnswer.objects.get(attempt=attempt, step=step)
    assert answer.rubric_ticked == sorted([points[1], points[2]])
    assert answer.traps_hit == []
    summary = mock_selectors.mock_review_rows(attempt=attempt)
    assert [r.ticked for r in summary.rows[0].rubric] == [False, True, True]


def test_finishing_a_mock_ticks_the_plans_mock_task_after_commit(
    content, django_capture_on_commit_callbacks
):
    user = make_user()
    plan = services.plan_start(user=user, chapter=content.chapter, now=T0)
    day14 = T0 + dt.timedelta(days=14, hours=1)
    attempt = mock_services.mock_start(user=user, script=content.mock, now=day14)
    task = content.tasks["d14-mock"]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        mock_services.mock_submit(attempt=attempt, now=day14 + dt.timedelta(minutes=5))
        assert not TaskCompletion.objects.filter(plan=plan, task=task).exists()
    # the plan's tick, and the implementation round's final grading (this script has an
    # exercise step)
    assert len(callbacks) == 2
    assert TaskCompletion.objects.filter(plan=plan, task=task).exists()


def test_an_expired_mock_also_ticks_the_plan_task(content, django_capture_on_commit_callbacks):
    user = make_user()
    plan = services.plan_start(user=user, chapter=content.chapter, now=T0)
    day14 = T0 + dt.timedelta(days=14, hours=1)
    attempt = mock_services.mock_start(user=user, script=content.mock, now=day14)
    with django_capture_on_commit_callbacks(execute=True):
        mock_services.mock_expire_if_due(attempt=attempt, now=day14 + dt.timedelta(hours=2))
    assert TaskCompletion.objects.filter(plan=plan, task=content.tasks["d14-mock"]).exists()


def test_a_second_start_of_a_running_script_returns_the_running_attempt(content):
    user = make_user()
    first = mock_services.mock_start(user=user, script=content.mock, now=T0)
    with pytest.raises(MockAlreadyRunning) as running:
        mock_services.mock_start(user=user, script=content.mock, time_factor=2.0, now=at(5))
    assert running.value.attempt.pk == first.pk
    assert MockAttempt.objects.count() == 1
    # once it has ended, by submit or by the clock, a new one starts
    mock_services.mock_submit(attempt=first, now=at(10))
    second = mock_services.mock_start(user=user, script=content.mock, now=at(20))
    third_try_at = second.deadline + dt.timedelta(minutes=5)
    third = mock_services.mock_start(user=user, script=content.mock, now=third_try_at)
    second.refresh_from_db()
    assert second.end_reason == MockAttempt.EndReason.EXPIRED
    assert third.started_at == third_try_at


def test_the_database_refuses_two_running_attempts_of_one_script(content):
    user = make_user()
    mock_services.mock_start(user=user, script=content.mock, now=T0)
    with pytest.raises(IntegrityError), transaction.atomic():
        MockAttempt.objects.create(user=user, script=content.mock, started_at=T0)


def test_real_paper_discussion_flags_overfitting_on_the_plot_question():
    call_command("load_quizbank", verbosity=0)
    script = MockScript.objects.get(slug="paper-discussion")
    assert script.duration_s == 1200
    attempt = mock_services.mock_start(user=make_user(), script=script, now=T0)
    opening = script.steps.order_by("order").first()
    assert opening.item.slug == "degradation-mock-plot-20-vs-56"
    mock_services.mock_autosave(
        attempt=attempt,
        step=opening,
        text="The deeper net is overfitting; its training error is higher, so use residual blocks.",
        now=at(120),
    )
    mock_services.mock_submit(attempt=attempt, now=at(300))
    summary = mock_selectors.mock_review_rows(attempt=attempt)
    first = summary.rows[0]
    assert [t.phrase for t in first.traps] == ["is overfitting"]
    assert "overfitting would lower it" in first.traps[0].why
    ticked = [r.point.text for r in first.rubric if r.ticked]
    assert any(text.startswith("Points out that the training error") for text in ticked)
    assert any(text.startswith("Fix: residual blocks") for text in ticked)
    assert not any(text.startswith("Rules out overfitting") for text in ticked)
    assert summary.questions == 8
    assert summary.answered == 1
