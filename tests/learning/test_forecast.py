"""The 21-day review forecast: cards counted on the learner's local day of their due
instant, overdue cards on today, nothing of another learner's or of a retired item."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from learning import forecast, scheduling
from learning.models import LearnerCard
from tests.learning.factories_learner import make_content, make_user

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def _card(user, item, due: dt.datetime) -> LearnerCard:
    state = scheduling.card_new(now=due).to_dict()
    return LearnerCard.objects.create(
        user=user, item=item, state=state, due=due, created_at=due, updated_at=due
    )


def _extra_item(model):
    """One more item, a copy of `model` under another slug."""
    model.pk = None
    model.slug = f"{model.slug}-copy"
    model.save()
    return model


def test_counts_follow_the_learners_days_not_utcs():
    content = make_content()
    items = content.items
    tokyo = make_user("ken", time_zone="Asia/Tokyo")  # UTC+9, no daylight saving
    other = make_user("ada")
    # 20:00 UTC on 5 December is 05:00 on 6 December in Tokyo: today is the 6th there.
    now = dt.datetime(2026, 12, 5, 20, 0, tzinfo=UTC)
    _card(tokyo, items["mc"], dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC))  # overdue
    _card(tokyo, items["free"], dt.datetime(2026, 12, 5, 16, 0, tzinfo=UTC))  # 6th 01:00
    _card(tokyo, items["numeric"], dt.datetime(2026, 12, 6, 14, 59, tzinfo=UTC))  # 6th 23:59
    _card(tokyo, items["ordering"], dt.datetime(2026, 12, 6, 15, 0, tzinfo=UTC))  # 7th 00:00
    _card(tokyo, items["ratio"], dt.datetime(2026, 12, 26, 14, 0, tzinfo=UTC))  # 26th: day 20
    _card(tokyo, _extra_item(items["ratio"]), dt.datetime(2026, 12, 26, 15, 0, tzinfo=UTC))  # 27th
    _card(other, items["mc"], dt.datetime(2026, 12, 6, 1, 0, tzinfo=UTC))  # not Ken's

    result = forecast.due_per_day(user=tokyo, chapter=content.chapter, now=now)

    assert result.days[0] == dt.date(2026, 12, 6) and result.days[-1] == dt.date(2026, 12, 26)
    assert len(result.due) == 21
    expected = [0] * 21
    expected[0] = 3  # the overdue card, and the two due at 01:00 and 23:59 on the 6th
    expected[1] = 1
    expected[20] = 1
    assert result.due == expected
    assert result.overdue == 1 and result.total == 5
    chart = result.as_chart()
    assert chart["labels"][0] == "2026-12-06" and chart["due"] == expected


def test_the_same_cards_read_in_utc():
    content = make_content()
    items = content.items
    ada = make_user("ada")  # UTC
    now = dt.datetime(2026, 12, 5, 20, 0, tzinfo=UTC)
    _card(ada, items["mc"], dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC))  # overdue
    _card(ada, items["free"], dt.datetime(2026, 12, 5, 16, 0, tzinfo=UTC))  # today, past
    _card(ada, items["numeric"], dt.datetime(2026, 12, 6, 14, 59, tzinfo=UTC))  # tomorrow
    _card(ada, items["ordering"], dt.datetime(2026, 12, 25, 23, 59, tzinfo=UTC))  # day 20
    _card(ada, items["ratio"], dt.datetime(2026, 12, 26, 0, 0, tzinfo=UTC))  # day 21: out
    result = forecast.due_per_day(user=ada, chapter=content.chapter, now=now)
    assert result.days[0] == dt.date(2026, 12, 5)
    assert result.due[:2] == [2, 1] and result.due[20] == 1 and result.total == 4
    assert result.overdue == 1


def test_retired_items_are_left_out():
    content = make_content()
    ada = make_user("ada")
    now = dt.datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    _card(ada, content.items["mc"], now + dt.timedelta(days=2))
    _card(ada, content.items["free"], now + dt.timedelta(days=2))
    content.items["free"].retired = True
    content.items["free"].save(update_fields=["retired"])
    result = forecast.due_per_day(user=ada, chapter=content.chapter, now=now)
    assert result.due[2] == 1 and result.total == 1


def test_the_dashboard_embeds_the_forecast(client):
    content = make_content()
    ada = make_user("ada")
    client.force_login(ada)
    from django.utils import timezone

    now = timezone.now()
    _card(ada, content.items["mc"], now - dt.timedelta(days=3))
    _card(ada, content.items["free"], now + dt.timedelta(days=4, hours=1))
    response = client.get(reverse("home"))
    page = response.content.decode()
    chart = response.context["forecast"].as_chart()
    assert chart["due"][0] == 1 and sum(chart["due"]) == 2 and chart["overdue"] == 1
    assert 'id="review-forecast"' in page and 'id="forecast-chart"' in page
    assert (
        "2 cards fall due in the next 21 days. Today's bar counts the cards due later today too, and 1 overdue"
        in page
    )
