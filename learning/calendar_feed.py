"""The private calendar subscription: a secret URL a calendar app polls for the plan.

It serves the same iCalendar as the download (`exports.plan_to_ics`), whose event UIDs are
stable per learner and plan day, so the app moves the "Day N" events when the plan is
restarted instead of adding a second set.
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from icalendar import Calendar

from learning import exports
from learning.models import CalendarFeed, LearnerPlan
from quizbank.models import Chapter

# 32 random bytes, URL-safe: 43 characters. Shorter strings are refused before any query.
TOKEN_BYTES = 32
TOKEN_MIN_LENGTH = 40


def feed_of(*, user: AbstractBaseUser) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(user=user).first()


@transaction.atomic
def feed_issue(*, user: AbstractBaseUser, now: dt.datetime | None = None) -> CalendarFeed:
    """Make the learner's feed, or give it a new secret (the old URL stops working)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    feed, _ = CalendarFeed.objects.select_for_update().update_or_create(
        user=user, defaults={"token": token, "created_at": now or timezone.now()}
    )
    return feed


def feed_revoke(*, user: AbstractBaseUser) -> bool:
    """Stop the learner's feed; True when there was one."""
    deleted, _ = CalendarFeed.objects.filter(user=user).delete()
    return bool(deleted)


def feed_owner(*, token: str) -> AbstractBaseUser | None:
    """The learner whose feed this secret opens, or None (unknown, revoked, malformed)."""
    if not token or len(token) < TOKEN_MIN_LENGTH or len(token) > 64:
        return None
    feed = CalendarFeed.objects.select_related("user").filter(token=token).first()
    if feed is None or not secrets.compare_digest(feed.token, token):
        return None
    if not feed.user.is_active:
        return None
    return feed.user


def feed_body(*, user: AbstractBaseUser, chapter: Chapter, base_url: str) -> bytes:
    """The learner's active plan as iCalendar; without one, a valid calendar with no events
    (the subscription keeps working and fills in when a plan starts)."""
    plan = (
        LearnerPlan.objects.select_related("chapter")
        .filter(user=user, chapter=chapter, active=True)
        .first()
    )
    if plan is not None:
        return exports.plan_to_ics(plan=plan, base_url=base_url)
    cal = Calendar()
    cal.add("prodid", "-//resnet-prep//review plan//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "ResNet prep: review plan")
    return cal.to_ical()
