"""A learner ten days into the plan, on the real quiz bank: the data the page budgets and
benchmarks/web.py run against.

Ten days in means Day 0, 3 and 7 have come (some tasks done, some overdue), Day 14 and
21 are upcoming; a week of reviews spread over several days (with every rating), cards
due now, a weak skill that brings later items forward, submissions to several
exercises, a finished mock and a running one. Every write goes through the services
with a `now` in the past, as the learner would have made them.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.utils import timezone
from fsrs import Rating

from accounts.services import profile_set_time_zone
from learning import services
from learning.answers import Checked
from learning.models import LearnerCard
from quizbank.models import Chapter, Item, MockScript, Skill

DAYS_IN = 10


@dataclass
class World:
    """The learner and the rows the pages are asked about."""

    user: object
    chapter: Chapter
    done_mock: object  # a finished MockAttempt
    running_mock: object  # a running MockAttempt
    exercises: list[str]  # slugs with submissions


def bank_loaded() -> Chapter:
    """The real bank, loaded once (a second call finds it)."""
    from quizbank.loader import bank_load, chapter_folders

    chapter = Chapter.objects.filter(slug="resnet", retired=False).first()
    if chapter is None:
        bank_load(folders=chapter_folders())
        chapter = Chapter.objects.get(slug="resnet")
    return chapter


def learner_in_plan(username: str, *, now: dt.datetime | None = None, reviews: int = 40) -> World:
    """A learner with a plan started DAYS_IN days ago and its history (see the module)."""
    from grading import catalog
    from grading.models import Submission, TestResult
    from interviews import services as mock_services

    now = now or timezone.now()
    chapter = bank_loaded()
    user = get_user_model().objects.create_user(username=username)
    profile_set_time_zone(user=user, time_zone="Europe/Paris")
    started = now - dt.timedelta(days=DAYS_IN, hours=2)

    skills = list(Skill.objects.filter(chapter=chapter, retired=False).order_by("order"))
    services.skills_rate(user=user, chapter=chapter, scores={s.pk: 3 for s in skills}, now=started)
    # A later sitting: one skill weak (brings its later items forward), one at target.
    services.skills_rate(
        user=user,
        chapter=chapter,
        scores={skills[0].pk: 2, skills[1].pk: 4},
        now=started + dt.timedelta(days=4),
    )
    services.plan_start(user=user, chapter=chapter, now=started)

    items = list(
        Item.objects.filter(chapter=chapter, retired=False).order_by("part__order", "order")
    )
    ratings = [Rating.Good, Rating.Easy, Rating.Again, Rating.Hard, Rating.Good]
    for n in range(reviews):
        item = items[(n * 7) % len(items)]
        rating = ratings[n % len(ratings)]
        at = started + dt.timedelta(days=n * DAYS_IN / reviews, minutes=n)
        services.review_record(
            user=user,
            item=item,
            checked=Checked(correct=rating >= Rating.Good, rating=rating, feedback="", answer={}),
            source="due",
            now=at,
        )
    # Half the cards are due now (the queue is never empty).
    card_ids = list(LearnerCard.objects.filter(user=user).values_list("pk", flat=True))
    LearnerCard.objects.filter(pk__in=card_ids[::2]).update(due=now - dt.timedelta(hours=1))

    specs = catalog.exercise_list()
    for n, spec in enumerate(specs[:4]):
        for attempt in range(3):
            passed = attempt == 2 and n % 2 == 0
            submission = Submission.objects.create(
                user=user,
                exercise=spec.slug,
                code=spec.starter_code,
                status=Submission.Status.PASSED if passed else Submission.Status.FAILED,
                score=1.0 if passed else 0.5,
                passed=4 if passed else 2,
                total=4,
                finished_at=started + dt.timedelta(days=attempt + 1),
            )
            TestResult.objects.bulk_create(
                TestResult(
                    submission=submission,
                    order=k,
                    name=f"test {k}",
                    category="shape",
                    passed=passed or k < 2,
                    message="" if passed or k < 2 else "wrong shape",
                )
                for k in range(4)
            )
    scripts = list(MockScript.objects.filter(chapter=chapter, retired=False).order_by("order"))
    done = mock_services.mock_start(
        user=user, script=scripts[0], untimed=True, now=started + dt.timedelta(days=2)
    )
    for step in done.script.steps.all():
        mock_services.mock_autosave(
            attempt=done, step=step, text="A residual block adds its input to its output.",
            now=started + dt.timedelta(days=2, minutes=5),
        )  # fmt: skip
    mock_services.mock_submit(attempt=done, now=started + dt.timedelta(days=2, minutes=30))
    running = mock_services.mock_start(
        user=user, script=scripts[-1], untimed=True, now=now - dt.timedelta(minutes=5)
    )
    return World(
        user=user,
        chapter=chapter,
        done_mock=done,
        running_mock=running,
        exercises=[spec.slug for spec in specs[:4]],
    )


STATEMENTS_MAX = 19  # the target: every learner page under 20 queries


@contextmanager
def within(budget_check, budget: int):
    """django_assert_max_num_queries(budget), and under 20 statements once the test's
    SAVEPOINTs are left out."""
    with budget_check(budget) as captured:
        yield captured
    statements = [
        q["sql"]
        for q in captured.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]
    assert len(statements) <= STATEMENTS_MAX, statements
