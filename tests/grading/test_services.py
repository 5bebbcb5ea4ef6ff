"""The submission pipeline's services on the default database (SQLite), with a real
in-memory broker. Gradings that need a sandbox are in test_grade_command.py and
test_end_to_end.py; here the sandbox is switched off (SANDBOX_BACKEND=none), which is a
real way for a grading to fail on our side."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from grading import claims, dispatch, flow, services
from grading.models import Submission, TestResult
from tests.grading.conftest import SE_BLOCK_SOLUTION, SE_BLOCK_SYNTAX_ERROR

pytestmark = pytest.mark.django_db


def make(user, *, code=SE_BLOCK_SOLUTION, kind="submit", exercise="se-block", **fields):
    submission = services.submission_create(
        user=user, exercise=exercise, code=code, kind=kind, enqueue=False
    )
    if fields:
        Submission.objects.filter(pk=submission.pk).update(**fields)
        submission.refresh_from_db()
    return submission


def test_creating_a_submission_queues_one_message_on_commit_to_the_exercise_queue(
    learner, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        submission = services.submission_create(
            user=learner, exercise="se-block", code=SE_BLOCK_SOLUTION, kind="submit"
        )
        assert broker.all() == []  # nothing leaves before the row is committed
    assert len(callbacks) == 1
    [sent] = broker.take("grade.cpu")
    assert sent.task == "grading.grade_submission"
    assert sent.args == [submission.pk]
    assert sent.eta is None
    # The exercise needs 60 s in the sandbox; the task may take longer, never shorter.
    assert sent.soft_time_limit > 60 and sent.time_limit > sent.soft_time_limit
    submission.refresh_from_db()
    assert submission.status == "queued"
    assert submission.queued_at is not None and submission.deadline > submission.queued_at


def test_gpu_exercises_go_to_the_gpu_queue_only_where_gpu_workers_run(settings):
    import dataclasses

    from grading.engine import exercise_get, exercise_list

    assert len(exercise_list()) == 8
    cpu = exercise_get("se-block")
    gpu = dataclasses.replace(cpu, queue="grade.gpu")  # as an exercise that asks for a GPU
    settings.GRADING_GPU = False
    assert dispatch.grading_queue(spec=cpu) == "grade.cpu"
    assert dispatch.grading_queue(spec=gpu) == "grade.cpu"
    settings.GRADING_GPU = True
    assert dispatch.grading_queue(spec=cpu) == "grade.cpu"
    assert dispatch.grading_queue(spec=gpu) == "grade.gpu"
    settings.SANDBOX_GPUS = "all"
    assert dispatch.grading_limits(spec=gpu).gpus == "all"
    assert dispatch.grading_limits(spec=cpu).gpus == "none"


def test_limits_take_the_larger_of_the_host_setting_and_the_exercise_need(settings):
    from grading.engine import exercise_get

    spec = exercise_get("se-block")
    settings.SANDBOX_WALL_S = 5.0
    settings.SANDBOX_MEMORY_MB = 4096
    limits = dispatch.grading_limits(spec=spec)
    assert limits.wall_s == spec.limits.wall_s  # the exercise needs more than 5 s
    assert limits.memory_mb == 4096  # the host allows more than the exercise asks
    assert limits.output_bytes == max(spec.limits.output_bytes, settings.SANDBOX_OUTPUT_KB * 1024)


@pytest.mark.parametrize(
    "code, reason",
    [
        ("x = 1\n" + "#" * (64 * 1024), "limit is 65,536 bytes"),
        (b"x = '\xff\xfe'\n", "not valid UTF-8"),
        ("x = '\ud800'\n", "not valid UTF-8"),
        ("   \n", "empty"),
    ],
    ids=["over-64-KiB", "bad-bytes", "lone-surrogate", "empty"],
)
def test_a_refused_source_raises_with_a_clear_message_before_anything_is_queued(
    learner, broker, django_capture_on_commit_callbacks, code, reason
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(services.SubmissionRefused, match=reason):
            services.submission_create(user=learner, exercise="se-block", code=code)
    assert callbacks == []
    assert broker.all() == []
    assert Submission.objects.count() == 0


def test_a_source_of_exactly_64_KiB_is_accepted(learner):
    code = "x = 1\n" + "#" * (64 * 1024 - 6)
    assert len(code.encode()) == 64 * 1024
    assert make(learner, code=code).status == "queued"


def test_an_unknown_exercise_is_refused_before_anything_is_queued(learner, broker):
    with pytest.raises(services.SubmissionRefused, match="no exercise named 'nope'"):
        services.submission_create(user=learner, exercise="nope", code=SE_BLOCK_SOLUTION)
    assert Submission.objects.count() == 0
    assert broker.all() == []


def test_grading_a_submission_someone_else_claimed_does_nothing(learner):
    submission = make(learner, status="running", started_at=timezone.now())
    assert flow.submission_grade(submission_id=submission.pk) is None
    submission.refresh_from_db()
    assert submission.status == "running" and submission.finished_at is None


def test_regrading_a_finished_submission_does_nothing(learner):
    submission = make(learner, code=SE_BLOCK_SYNTAX_ERROR)  # graded without a sandbox
    first = flow.submission_grade(submission_id=submission.pk)
    assert first.status == "error" and first.error_kind == "syntax"
    assert "SyntaxError" in first.stderr_excerpt
    rows = list(TestResult.objects.filter(submission=submission).values_list("pk", flat=True))
    assert rows and first.total == len(rows) and first.score == 0
    assert flow.submission_grade(submission_id=submission.pk) is None
    again = Submission.objects.get(pk=submission.pk)
    assert again.finished_at == first.finished_at
    assert list(again.tests.values_list("pk", flat=True)) == rows


def test_no_sandbox_is_retried_after_2_4_and_8_seconds_then_says_how_to_enable_one(
    learner, broker, no_sandbox, django_capture_on_commit_callbacks
):
    submission = make(learner)
    countdowns = []
    for attempt in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            graded = flow.submission_grade(submission_id=submission.pk)
        sent_at = timezone.now()  # the message leaves on commit, at the end of the block
        assert graded.status == "queued" and graded.attempts == attempt + 1
        assert "SANDBOX_BACKEND=none" in graded.detail
        [sent] = broker.take("grade.cpu")
        assert sent.args == [submission.pk]
        countdowns.append(round((sent.eta - sent_at).total_seconds()))
    assert countdowns == [2, 4, 8]

    with django_capture_on_commit_callbacks(execute=True):
        final = flow.submission_grade(submission_id=submission.pk)
    assert final.status == "sandbox_error"
    assert "not a problem with your submission" in final.message
    assert "make sandbox-image" in final.message and "bubblewrap" in final.message
    assert "SANDBOX_BACKEND=none" in final.message  # the worker's own reason
    assert final.stderr_excerpt == "" and final.finished_at is not None
    assert broker.all() == []  # given up: nothing more queued
    assert not final.tests.exists()


def test_the_sweeper_requeues_a_row_stuck_running_past_its_deadline_but_not_a_fresh_one(
    learner, broker, django_capture_on_commit_callbacks
):
    now = timezone.now()
    stuck = make(learner, status="running", started_at=now - timedelta(minutes=10),
                 deadline=now - timedelta(seconds=1))  # fmt: skip
    fresh = make(learner, status="running", started_at=now, deadline=now + timedelta(minutes=3))
    lost = make(learner, status="queued", deadline=now - timedelta(seconds=1))
    done = make(learner, status="passed", deadline=now - timedelta(minutes=1))

    with django_capture_on_commit_callbacks(execute=True):
        swept = claims.submission_sweep(now=now)
    assert sorted(swept) == sorted([stuck.pk, lost.pk])
    assert sorted(t.args[0] for t in broker.take("grade.cpu")) == sorted([stuck.pk, lost.pk])
    stuck.refresh_from_db()
    assert stuck.status == "queued" and stuck.attempts == 1 and stuck.deadline > now
    fresh.refresh_from_db()
    assert fresh.status == "running" and fresh.attempts == 0
    done.refresh_from_db()
    assert done.status == "passed"

    # The new deadlines hold: sweeping again at once changes nothing.
    with django_capture_on_commit_callbacks(execute=True):
        assert claims.submission_sweep(now=now) == []
    assert broker.all() == []


def test_a_requeued_row_is_graded_by_the_next_claim_and_the_old_worker_cannot_overwrite_it(
    learner,
):
    now = timezone.now()
    old_claim = now - timedelta(minutes=10)
    submission = make(learner, code=SE_BLOCK_SYNTAX_ERROR, status="running",
                      started_at=old_claim, deadline=now - timedelta(seconds=1))  # fmt: skip
    claims.submission_sweep(now=now)
    graded = flow.submission_grade(submission_id=submission.pk)
    assert graded.status == "error"
    # The lost worker comes back and tries to store its outcome under its old claim.
    stored = flow._finish(
        submission=graded, claimed_at=old_claim, values={"status": "passed"}, tests=[]
    )
    assert stored is False
    assert Submission.objects.get(pk=submission.pk).status == "error"


def test_a_row_lost_by_workers_too_often_ends_as_our_fault(learner):
    now = timezone.now()
    submission = make(learner, status="running", attempts=claims.MAX_SANDBOX_RETRIES,
                      deadline=now - timedelta(seconds=1))  # fmt: skip
    assert claims.submission_sweep(now=now) == []
    submission.refresh_from_db()
    assert submission.status == "sandbox_error" and "our fault" in submission.message


def test_the_sweep_task_and_the_worker_start_up_hook_run_the_sweeper(learner, broker):
    from grading.signals import on_worker_ready
    from grading.tasks import sweep_submissions

    now = timezone.now()
    first = make(learner, status="queued", deadline=now - timedelta(seconds=5))
    assert sweep_submissions() == 1
    Submission.objects.filter(pk=first.pk).update(deadline=now - timedelta(seconds=5))
    on_worker_ready()
    assert Submission.objects.get(pk=first.pk).deadline > now


def test_the_beat_schedule_sweeps_every_few_seconds_on_the_sweepers_own_queue():
    from config.celery_app import app

    entry = app.conf.beat_schedule["grading-sweep"]
    assert entry["task"] == "grading.sweep_submissions"
    assert entry["schedule"] <= 5
    assert entry["options"]["queue"] == "grade.sweep"
    assert app.amqp.router.route({}, "grading.sweep_submissions")["queue"].name == "grade.sweep"


@pytest.mark.django_db(transaction=True)
def test_a_grading_workers_heartbeat_renews_its_claim_and_only_its_own(learner):
    import time

    now = timezone.now()
    mine = make(learner, status="running", started_at=now, deadline=now)
    heartbeat = claims.Heartbeat(submission_id=mine.pk, claimed_at=now, every_s=0.1)
    heartbeat.start()
    try:
        time.sleep(0.6)
        renewed = Submission.objects.get(pk=mine.pk).deadline
        assert renewed > now + timedelta(seconds=claims.HEARTBEAT_STALE_S - 2)
        # Claimed again by someone else: this heartbeat no longer touches it.
        Submission.objects.filter(pk=mine.pk).update(started_at=now + timedelta(seconds=1),
                                                     deadline=now)  # fmt: skip
        time.sleep(0.4)
        assert Submission.objects.get(pk=mine.pk).deadline == now
    finally:
        heartbeat.stop()
        heartbeat.join(timeout=2)
    assert not heartbeat.is_alive()


def test_a_claimed_row_whose_worker_stops_beating_is_queued_again_within_seconds(
    learner, broker, django_capture_on_commit_callbacks
):
    submission = make(learner)
    claimed_at = claims.submission_claim(submission_id=submission.pk)
    assert claims.submission_claim(submission_id=submission.pk) is None  # taken
    # No heartbeat came (the worker was killed): a sweep seconds later gives it back.
    later = claimed_at + timedelta(seconds=claims.HEARTBEAT_STALE_S + 1)
    assert later - claimed_at < timedelta(seconds=30)
    with django_capture_on_commit_callbacks(execute=True):
        assert claims.submission_sweep(now=later) == [submission.pk]
    assert [t.args for t in broker.take("grade.cpu")] == [[submission.pk]]
    assert Submission.objects.get(pk=submission.pk).status == "queued"


def test_passing_a_submission_ticks_the_exercise_task_of_the_learners_plan(
    django_capture_on_commit_callbacks,
):
    from learning import services as quizbank_services
    from learning.models import TaskCompletion
    from tests.learning.factories_learner import make_content, make_user

    content = make_content()
    user = make_user()
    plan = quizbank_services.plan_start(
        user=user, chapter=content.chapter, now=timezone.now() - timedelta(days=3, hours=1)
    )

    def finish(kind, status):
        submission = make(user, exercise="basic-block", kind=kind, status="running",
                          started_at=timezone.now())  # fmt: skip
        with django_capture_on_commit_callbacks(execute=True):
            assert flow._finish(
                submission=submission,
                claimed_at=submission.started_at,
                values={"status": status, "score": 1.0 if status == "passed" else 0.5},
                tests=[],
            )

    finish("sample", "passed")  # sample tests prove nothing to the plan
    finish("submit", "failed")
    assert not TaskCompletion.objects.filter(plan=plan).exists()
    finish("submit", "passed")
    done = TaskCompletion.objects.filter(plan=plan).values_list("task__slug", flat=True)
    assert list(done) == ["d3-exercise"]


def test_a_stopping_worker_says_whether_it_finishes_or_hands_back(learner, broker, caplog):
    from grading.signals import on_worker_shutting_down, shutdown_report

    assert shutdown_report(submission_ids=[], how="Warm") == "warm shutdown: no grading in progress"
    assert "finishing submission(s) 7, 9" in shutdown_report(submission_ids=[7, 9], how="Warm")
    assert "handing submission(s) 7 back" in shutdown_report(submission_ids=[7], how="Cold")
    with caplog.at_level("WARNING", logger="grading.signals"):
        on_worker_shutting_down(how="Warm")  # this process grades nothing
    assert "warm shutdown: no grading in progress" in caplog.text


def test_a_running_row_handed_back_is_queued_at_once_without_counting_an_attempt(
    learner, broker, django_capture_on_commit_callbacks
):
    submission = make(learner)
    claims.submission_claim(submission_id=submission.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert claims.submission_hand_back(submission_ids=[submission.pk]) == [submission.pk]
        assert claims.submission_hand_back(submission_ids=[submission.pk]) == []
    row = Submission.objects.get(pk=submission.pk)
    assert (row.status, row.attempts, row.started_at) == ("queued", 0, None)
    assert [t.args for t in broker.take("grade.cpu")] == [[submission.pk]]
