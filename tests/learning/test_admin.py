"""The learner-state admin: staff can look at a learner's history but not edit it."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from quizbank.models import Chapter, Item, MockScript, Skill
from tests.quizbank.loading import FIXTURE

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def loaded():
    call_command("load_quizbank", str(FIXTURE), stdout=io.StringIO(), stderr=io.StringIO())


def test_learner_history_is_listed_for_staff_but_cannot_be_edited(admin_client, loaded):
    """Staff can look into a learner's ratings, plan, reviews and mock attempts (support,
    FSRS analysis), but history changes only through the services."""
    import datetime as dt

    from django.contrib.auth.models import User

    from interviews import services as mock_services
    from interviews.models import MockAttempt
    from learning import services
    from learning.answers import Checked
    from learning.models import LearnerCard, LearnerPlan, ReviewLogEntry, SkillRatingSnapshot
    from learning.scheduling import Rating

    user = User.objects.create_user("learner")
    chapter = Chapter.objects.get()
    now = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    skill = Skill.objects.filter(chapter=chapter).first()
    services.skills_rate(user=user, chapter=chapter, scores={skill.pk: 3}, now=now)
    services.plan_start(user=user, chapter=chapter, now=now)
    item = Item.objects.filter(chapter=chapter).first()
    services.review_record(
        user=user,
        item=item,
        checked=Checked(correct=True, rating=Rating.Good, feedback="Correct.", answer={"x": 1}),
        source=ReviewLogEntry.Source.DUE,
        now=now,
    )
    attempt = mock_services.mock_start(
        user=user, script=MockScript.objects.filter(chapter=chapter).first(), now=now
    )
    mock_services.mock_submit(attempt=attempt, now=now + dt.timedelta(minutes=1))

    for model in (SkillRatingSnapshot, LearnerPlan, LearnerCard, ReviewLogEntry, MockAttempt):
        opts = model._meta
        listing = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        assert listing.status_code == 200, model.__name__
        row = model.objects.get()
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk])
        page = admin_client.get(url)
        assert page.status_code == 200, model.__name__
        assert 'name="_save"' not in page.content.decode(), model.__name__
        assert admin_client.post(url, {}).status_code == 403, model.__name__
