"""The mock history page and the calendar subscription page in Chromium. Screenshots go to
artifacts_dir/screenshots/mock-history.png and calendar-subscription.png."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from icalendar import Calendar

from interviews import services as mock_services
from learning import services
from quizbank.models import MockStep, RubricPoint
from tests.conftest import logged_in_context, wait_in_page
from tests.learning.factories_learner import make_content, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shots(artifacts_dir):
    folder = artifacts_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _page(browser, live_server, user):
    context = logged_in_context(browser, live_server, user, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


def test_mock_history_draws_the_trend(browser, live_server, shots):
    content = make_content()
    step = MockStep.objects.create(script=content.mock, order=1, item=content.items["free"])
    points = list(RubricPoint.objects.filter(item=content.items["free"]).order_by("order"))
    ada = make_user("ada")
    for days_ago, ticked in ((3, 1), (2, 2), (1, 3)):
        start = timezone.now() - dt.timedelta(days=days_ago)
        attempt = mock_services.mock_start(user=ada, script=content.mock, now=start)
        mock_services.mock_autosave(attempt=attempt, step=step, text="An answer.", now=start)
        mock_services.mock_submit(attempt=attempt, now=start + dt.timedelta(minutes=4))
        mock_services.mock_review(
            attempt=attempt, ticks={step.pk: [p.pk for p in points[:ticked]]}, now=start
        )
    context, page, errors = _page(browser, live_server, ada)
    page.goto(f"{live_server.url}/mock/")
    page.get_by_role("link", name="Your scores over time").click()
    page.wait_for_url(f"{live_server.url}/mock/history/")
    wait_in_page(
        page, "() => window.Chart && Chart.getChart(document.querySelector('canvas.mock-chart'))"
    )
    series = page.evaluate(
        "() => Chart.getChart(document.querySelector('canvas.mock-chart')).data.datasets.map(d => d.data)"
    )
    assert series == [[33, 67, 100], [100, 100, 100]]
    assert "up 67" in page.locator("#format-rapid_fire .trend").inner_text()
    assert page.locator("#format-rapid_fire tbody tr").count() == 3
    page.screenshot(path=str(shots / "mock-history.png"), full_page=True)
    assert errors == []
    context.close()


def test_calendar_subscription_made_fetched_and_revoked(browser, live_server, shots):
    content = make_content()
    ada = make_user("ada", time_zone="Europe/Berlin")
    services.plan_start(user=ada, chapter=content.chapter)
    context, page, errors = _page(browser, live_server, ada)
    page.goto(f"{live_server.url}/plan/")
    page.get_by_role("link", name="subscribe to it").click()
    page.locator("#feed-create").click()
    url = page.locator("#feed-url").input_value()
    assert url.startswith(live_server.url + "/calendar/") and url.endswith(".ics")
    assert (
        page.locator("#feed-subscribe").get_attribute("href")
        == "webcal://" + url.split("://", 1)[1]
    )
    page.screenshot(path=str(shots / "calendar-subscription.png"), full_page=True)

    app = browser.new_context()  # a calendar app: no cookies of the learner's
    fetched = app.request.get(url)
    assert fetched.status == 200 and fetched.headers["content-type"].startswith("text/calendar")
    assert len(Calendar.from_ical(fetched.body()).walk("VEVENT")) == 5

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#feed-revoke").click()
    page.wait_for_selector("#feed-create")
    gone = app.request.get(url)
    assert gone.status == 404 and gone.text() == "Not found.\n"
    assert errors == []
    app.close()
    context.close()
