"""The private calendar subscription: a secret URL serves the same iCalendar as the
download, without a log-in; regenerating or revoking kills the old URL; an unknown,
revoked or malformed secret gets one identical bare 404; UIDs stay put across restarts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from icalendar import Calendar

from learning import exports, services
from learning.models import CalendarFeed
from tests.learning.factories_learner import make_content, make_user

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
def content():
    return make_content()


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _make_feed(client: Client) -> str:
    """Press the button; return the URL path the page shows."""
    response = client.post(reverse("calendar-manage"), {"action": "create"})
    assert response.status_code == 302 and response["Location"] == reverse("calendar")
    page = client.get(reverse("calendar"))
    assert page["Referrer-Policy"] == "same-origin"
    url = page.context["feed_url"]
    assert url.startswith("http://testserver/calendar/") and url.endswith(".ics")
    assert page.context["webcal_url"] == "webcal://" + url.split("://", 1)[1]
    assert url in page.content.decode()
    return url.removeprefix("http://testserver")


def test_the_feed_is_the_download_without_a_log_in(content):
    ada = make_user("ada", time_zone="Asia/Tokyo")
    plan = services.plan_start(user=ada, chapter=content.chapter, now=T0)
    client = _login(ada)
    path = _make_feed(client)
    token = CalendarFeed.objects.get(user=ada).token
    assert len(token) >= 40 and token in path

    calendar_app = Client()  # no session: a calendar app fetching the URL
    response = calendar_app.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert "Set-Cookie" not in response.headers and "no-cache" in response["Cache-Control"]
    assert response.content == exports.plan_to_ics(plan=plan, base_url="http://testserver/")
    assert response.content == client.get(reverse("plan-ics")).content
    events = Calendar.from_ical(response.content).walk("VEVENT")
    assert [str(e["uid"]) for e in events] == [
        f"learner-{ada.pk}-resnet-day-{d}@resnet-prep" for d in (0, 3, 7, 14, 21)
    ]
    assert events[0].decoded("dtstart") == dt.date(2026, 3, 2)  # 12:00 in Tokyo


def test_restarting_the_plan_moves_the_same_events(content):
    ada = make_user("ada", time_zone="Asia/Tokyo")
    services.plan_start(user=ada, chapter=content.chapter, now=T0)
    path = _make_feed(_login(ada))
    before = Calendar.from_ical(Client().get(path).content).walk("VEVENT")
    services.plan_start(user=ada, chapter=content.chapter, now=T0 + dt.timedelta(days=2))
    after = Calendar.from_ical(Client().get(path).content).walk("VEVENT")
    live = [e for e in after if str(e.get("status", "")) != "CANCELLED"]
    assert [str(e["uid"]) for e in live] == [str(e["uid"]) for e in before]
    assert live[0].decoded("dtstart") == dt.date(2026, 3, 4)
    assert all(int(a["sequence"]) > int(b["sequence"]) for a, b in zip(live, before, strict=True))


def test_without_a_plan_the_feed_is_an_empty_calendar(content):
    ada = make_user("ada")
    path = _make_feed(_login(ada))
    response = Client().get(path)
    assert response.status_code == 200
    cal = Calendar.from_ical(response.content)
    assert cal.walk("VEVENT") == [] and str(cal["version"]) == "2.0"


def test_regenerate_and_revoke_kill_the_old_url_and_every_404_is_the_same(content):
    ada = make_user("ada")
    services.plan_start(user=ada, chapter=content.chapter)
    client = _login(ada)
    first = _make_feed(client)
    client.post(reverse("calendar-manage"), {"action": "regenerate"})
    second = client.get(reverse("calendar")).context["feed_url"].removeprefix("http://testserver")
    assert second != first
    assert Client().get(second).status_code == 200
    old = Client().get(first)
    client.post(reverse("calendar-manage"), {"action": "revoke"})
    assert not CalendarFeed.objects.filter(user=ada).exists()
    revoked = Client().get(second)
    unknown = Client().get(reverse("calendar-feed", args=["x" * 43]))
    malformed = Client().get(reverse("calendar-feed", args=["short"]))
    for response in (old, revoked, unknown, malformed):
        assert response.status_code == 404
        assert response.content == b"Not found.\n"
        assert response["Content-Type"] == "text/plain; charset=utf-8"
        assert "Set-Cookie" not in response.headers
    page = client.get(reverse("calendar"))
    assert page.context["feed"] is None and 'id="feed-create"' in page.content.decode()
    # making it again gives a third secret, not the revoked one back
    client.post(reverse("calendar-manage"), {"action": "create"})
    third = client.get(reverse("calendar")).context["feed_url"].removeprefix("http://testserver")
    assert third not in (first, second)


def test_a_feed_opens_its_learners_plan_only(content):
    ada, bob = make_user("ada"), make_user("bob")
    services.plan_start(user=ada, chapter=content.chapter, now=T0)
    services.plan_start(user=bob, chapter=content.chapter, now=T0 + dt.timedelta(days=5))
    ada_path = _make_feed(_login(ada))
    bob_client = _login(bob)
    bob_page = bob_client.get(reverse("calendar"))
    assert bob_page.context["feed"] is None  # Bob sees no feed, and not Ada's
    assert ada_path not in bob_page.content.decode()
    uids = {
        str(e["uid"]) for e in Calendar.from_ical(bob_client.get(ada_path).content).walk("VEVENT")
    }
    assert uids == {f"learner-{ada.pk}-resnet-day-{d}@resnet-prep" for d in (0, 3, 7, 14, 21)}
    # Bob revoking touches only his own (absent) feed
    bob_client.post(reverse("calendar-manage"), {"action": "revoke"})
    assert Client().get(ada_path).status_code == 200
    # a deactivated account's feed stops
    ada.is_active = False
    ada.save(update_fields=["is_active"])
    assert Client().get(ada_path).status_code == 404


def test_managing_needs_a_log_in_a_post_and_a_known_action(content):
    anonymous = Client()
    response = anonymous.post(reverse("calendar-manage"), {"action": "create"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert anonymous.get(reverse("calendar")).status_code == 302
    assert not CalendarFeed.objects.exists()
    client = _login(make_user("ada"))
    assert client.get(reverse("calendar-manage")).status_code == 405
    assert client.post(reverse("calendar-manage"), {"action": "share"}).status_code == 400
    assert not CalendarFeed.objects.exists()
