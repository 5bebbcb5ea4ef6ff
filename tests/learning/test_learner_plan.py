"""The Day 0-21 plan and FSRS, with the clock moved by passing `now`."""

from __future__ import annotations

import datetime as dt

import pytest
from fsrs import Card, Rating, Scheduler

from learning import selectors, services
from learning.answers import Checked
from learning.models import LearnerCard, LearnerPlan, ReviewLogEntry, TaskCompletion
from tests.learning.factories_learner import make_content, make_user

pytestmark = pytest.mark.django_db

# 09:00 in Tokyo on 2 March 2026 is still 1 March in UTC.
T0 = dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC)


def day(n: int, hours: float = 0) -> dt.datetime:
    return T0 + dt.timedelta(days=n, hours=hours)


def answer(user, item, rating: Rating, at: dt.datetime, source="due", count=False):
    return services.review_record(
        user=user,
        item=item,
        checked=Checked(correct=rating != Rating.Again, rating=rating, feedback=""),
        source=source,
        count_toward_schedule=count,
        duration_ms=4000,
        now=at,
    )


def test_day_zero_is_today_in_the_learners_zone():
    content = make_content()
    tokyo = make_user("kei", time_zone="Asia/Tokyo")
    honolulu = make_user("lani", time_zone="Pacific/Honolulu")
    at = dt.datetime(2026, 3, 1, 20, 0, tzinfo=dt.UTC)  # 05:00 on 2 March in Tokyo
    assert services.plan_start(user=tokyo, chapter=content.chapter, now=at).started_on == dt.date(
        2026, 3, 2
    )
    assert services.plan_start(
        user=honolulu, chapter=content.chapter, now=at
    ).started_on == dt.date(2026, 3, 1)


def test_checkpoints_fall_on_days_0_3_7_14_21_with_three_tasks_each():
    content = make_content()
    user = make_user()
    plan = services.plan_start(user=user, chapter=content.chapter, now=T0)
    checkpoints = selectors.plan_checkpoints(plan=plan, now=T0)
    assert [c.day for c in checkpoints] == [0, 3, 7, 14, 21]
    assert [c.date for c in checkpoints] == [
        T0.date() + dt.timedelta(days=d) for d in (0, 3, 7, 14, 21)
    ]
    assert [len(c.tasks) for c in checkpoints] == [3, 3, 3, 3, 3]
    assert [c.status for c in checkpoints] == [
        "today",
        "upcoming",
        "upcoming",
        "upcoming",
        "upcoming",
    ]


def test_items_task_is_done_when_each_item_was_reviewed_since_the_checkpoint_came():
    content = make_content()
    user = make_user()
    plan = services.plan_start(user=user, chapter=content.chapter, now=T0)
    d3 = content.tasks["d3-cards"]
    # Reviewing Day 3's items on Day 1 does not count for Day 3.
    answer(user, content.items["ordering"], Rating.Good, day(1))
    answer(user, content.items["numeric"], Rating.Good, day(1))
    assert not TaskCompletion.objects.filter(plan=plan, task=d3).exists()
    answer(user, content.items["ordering"], Rating.Good, day(3, 1))
    assert not TaskCompletion.objects.filter(plan=plan, task=d3).exists()
    answer(user, content.items["numeric"], Rating.Good, day(3, 2), source="practice")
    completion = TaskCompletion.objects.get(plan=plan, task=d3)
    assert completion.how == "auto" and completion.completed_at == day(3, 2)


def test_overdue_tasks_show_and_restart_keeps_history():
    content = make_content()
    user = make_user()
    plan = services.plan_start(user=user, chapter=content.chapter, now=T0)
    answer(user, content.items["mc"], Rating.Good, day(0, 1))
    answer(user, content.items["free"], Rating.Good, day(0, 2))
    checkpoints = selectors.plan_checkpoints(plan=plan, now=day(5))
    assert checkpoints[0].tasks[0].status == "done"
    assert [t.status for t in checkpoints[0].tasks[1:]] == ["overdue", "overdue"]
    assert checkpoints[1].status == "overdue" and checkpoints[2].status == "upcoming"

    fresh = services.plan_start(user=user, chapter=content.chapter, now=day(5))
    plan.refresh_from_db()
    assert plan.active is False and plan.ended_at == day(5)
    assert fresh.active and fresh.started_on == day(5).date()
    assert TaskCompletion.objects.filter(plan=plan).count() == 1
    assert ReviewLogEntry.objects.filter(user=user).count() == 2
    assert [c.status for c in selectors.plan_checkpoints(plan=fresh, now=day(5))][:2] == [
        "today",
        "upcoming",
    ]
    # The old plan's tasks can no longer be ticked.
    with pytest.raises(services.PlanError):
        services.plan_task_confirm(plan=plan, task=content.tasks["d0-draw"], now=day(5))


def test_restart_does_not_count_reviews_from_before_the_restart():
    content = make_content()
    user = make_user()
    answer(user, content.items["mc"], Rating.Good, day(0, 1))
    answer(user, content.items["free"], Rating.Good, day(0, 2))
    plan = services.plan_start(user=user, chapter=content.chapter, now=day(0, 3))
    queue = selectors.due_queue(user=user, chapter=content.chapter, now=day(0, 4))
    assert [e.item.slug for e in queue if e.source == "plan"] == [
        "degradation-cause",
        "explain-degradation-60s",
    ]
    assert not TaskCompletion.objects.filter(plan=plan).exists()


def test_manual_task_needs_its_day_to_have_come():
    content = make_content()
    user = make_user()
    plan = services.plan_start(user=user, chapter=content.chapter, now=T0)
    with pytest.raises(services.PlanError):
        services.plan_task_confirm(plan=plan, task=content.tasks["d3-draw"], now=day(2))
    completion = services.plan_task_confirm(plan=plan, task=content.tasks["d3-draw"], now=day(3))
    assert completion.how == "manual"


def test_exercise_mock_and_problem_tick_their_tasks_and_work_done_early_counts():
    content = make_content()
    user = make_user()
    plan = services.plan_start(user=user, chapter=content.chapter, now=T0)
    # Passed on Day 1: ticks the earliest later task that names it (Day 3), not Day 21.
    services.plan_record_exercise_passed(user=user, exercise_slug="basic-block", now=day(1))
    done = set(TaskCompletion.objects.filter(plan=plan).values_list("task__slug", flat=True))
    assert done == {"d3-exercise"}
    services.plan_record_exercise_passed(user=user, exercise_slug="basic-block", now=day(3))
    assert TaskCompletion.objects.filter(plan=plan, task=content.tasks["d21-exercise"]).exists()
    # A mock finished on Day 0 ticks the Day 14 mock task.
    services.plan_record_mock_finished(user=user, mock_slug="rapid-fire", now=day(0, 5))
    assert TaskCompletion.objects.filter(plan=plan, task=content.tasks["d14-mock"]).exists()
    services.problem_mark_solved(user=user, problem=content.problem, hints_seen=2, now=day(7))
    done = set(TaskCompletion.objects.filter(plan=plan).values_list("task__slug", flat=True))
    assert {"d0-problem", "d7-problem"} <= done


def test_recording_without_a_plan_does_nothing():
    content = make_content()
    user = make_user()
    services.plan_record_exercise_passed(user=user, exercise_slug="basic-block", now=T0)
    services.plan_record_mock_finished(user=user, mock_slug="rapid-fire", now=T0)
    assert not TaskCompletion.objects.exists()
    assert content.chapter.pk


def test_a_lapse_comes_back_before_the_next_checkpoint():
    content = make_content()
    user = make_user()
    services.plan_start(user=user, chapter=content.chapter, now=T0)
    item = content.items["mc"]
    answer(user, item, Rating.Good, day(0, 1), source="plan")
    answer(user, item, Rating.Good, day(0, 1.5), source="plan")  # graduates to review
    card = LearnerCard.objects.get(user=user, item=item)
    assert card.due > day(1, 1.5)
    answer(user, item, Rating.Again, day(1, 2))
    card.refresh_from_db()
    assert card.lapses == 1
    day3 = selectors.plan_checkpoints(
        plan=selectors.plan_active(user=user, chapter=content.chapter), now=day(1)
    )[1]
    day3_start = dt.datetime.combine(day3.date, dt.time(0), tzinfo=dt.UTC)
    assert day(1, 2) < card.due < day3_start
    # It is in the due queue once due, before Day 3.
    queue = selectors.due_queue(user=user, chapter=content.chapter, now=card.due)
    assert any(e.item == item and e.source == "due" for e in queue)


def test_after_day_21_cards_follow_fsrs_exactly():
    content = make_content()
    user = make_user()
    services.plan_start(user=user, chapter=content.chapter, now=T0)
    item = content.items["numeric"]
    reference = Scheduler(enable_fuzzing=False)
    expected = Card(due=day(21))
    for n, rating in [(21, Rating.Good), (21.1, Rating.Good), (24, Rating.Hard), (30, Rating.Easy)]:
        at = day(int(n), (n % 1) * 24)
        answer(user, item, rating, at)
        expected, _ = reference.review_card(expected, rating, review_datetime=at)
        card = LearnerCard.objects.get(user=user, item=item)
        assert card.due == expected.due
        assert card.state["stability"] == pytest.approx(expected.stability)
    assert card.due > day(40)  # FSRS alone decides: far past the plan's last day


def test_practice_does_not_move_the_card_unless_asked():
    content = make_content()
    user = make_user()
    item = content.items["mc"]
    answer(user, item, Rating.Good, day(0), source="due")
    card = LearnerCard.objects.get(user=user, item=item)
    entry = answer(user, item, Rating.Again, day(0, 1), source="practice")
    card.refresh_from_db()
    assert entry.counted is False and card.reps == 1
    entry = answer(user, item, Rating.Good, day(0, 2), source="practice", count=True)
    card.refresh_from_db()
    assert entry.counted is True and card.reps == 2
    assert ReviewLogEntry.objects.filter(user=user, item=item).count() == 3


def test_review_log_keeps_rating_time_and_duration():
    content = make_content()
    user = make_user()
    entry = answer(user, content.items["mc"], Rating.Hard, day(2))
    entry.refresh_from_db()
    assert (entry.rating, entry.reviewed_at, entry.duration_ms) == (2, day(2), 4000)


def test_rerating_the_latest_review_replays_fsrs_from_before_it():
    content = make_content()
    user = make_user()
    item = content.items["mc"]
    answer(user, item, Rating.Good, day(0))
    answer(user, item, Rating.Good, day(0, 1))
    last = answer(user, item, Rating.Again, day(3))
    services.review_rerate(entry=last, rating=Rating.Easy)
    reference = Scheduler(enable_fuzzing=False)
    card = Card(due=day(0))
    for at, rating in [(day(0), Rating.Good), (day(0, 1), Rating.Good), (day(3), Rating.Easy)]:
        card, _ = reference.review_card(card, rating, review_datetime=at)
    row = LearnerCard.objects.get(user=user, item=item)
    assert row.due == card.due and row.lapses == 0
    first = ReviewLogEntry.objects.filter(user=user, item=item).order_by("reviewed_at").first()
    with pytest.raises(ValueError):
        services.review_rerate(entry=first, rating=Rating.Hard)


def test_due_queue_puts_checkpoint_items_first_then_due_cards():
    content = make_content()
    user = make_user()
    services.plan_start(user=user, chapter=content.chapter, now=T0)
    answer(user, content.items["ratio"], Rating.Again, day(0, 1), source="practice", count=True)
    queue = selectors.due_queue(user=user, chapter=content.chapter, now=day(0, 2))
    assert [(e.item.slug, e.source) for e in queue] == [
        ("degradation-cause", "plan"),
        ("explain-degradation-60s", "plan"),
        ("equal-width-ratio", "due"),
    ]
    open_tasks = selectors.due_open_tasks(user=user, chapter=content.chapter, now=day(0, 2))
    assert [v.task.slug for _, v in open_tasks] == ["d0-problem", "d0-draw"]


def test_one_active_plan_per_learner():
    content = make_content()
    user = make_user()
    services.plan_start(user=user, chapter=content.chapter, now=T0)
    services.plan_start(user=user, chapter=content.chapter, now=day(1))
    assert LearnerPlan.objects.filter(user=user, active=True).count() == 1
    assert LearnerPlan.objects.filter(user=user).count() == 2


def test_streak_counts_local_days_ending_today_or_yesterday():
    from learning.scheduling import streak_days

    today = dt.date(2026, 3, 10)
    days = {today - dt.timedelta(days=n) for n in (1, 2, 3, 5)}
    assert streak_days(review_days=days, today=today) == 3  # yesterday back to 3 days ago
    assert streak_days(review_days=days | {today}, today=today) == 4
    assert streak_days(review_days={today - dt.timedelta(days=2)}, today=today) == 0


def test_streak_uses_the_learners_local_day():
    content = make_content()
    user = make_user(time_zone="America/New_York")
    # 23:30 on 9 March in New York is 03:30 on 10 March UTC; 10:00 on 10 March local next.
    answer(user, content.items["mc"], Rating.Good, dt.datetime(2026, 3, 10, 3, 30, tzinfo=dt.UTC))
    answer(user, content.items["mc"], Rating.Good, dt.datetime(2026, 3, 10, 14, 0, tzinfo=dt.UTC))
    assert selectors.streak(user=user, now=dt.datetime(2026, 3, 10, 20, 0, tzinfo=dt.UTC)) == 2
