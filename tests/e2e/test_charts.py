"""The dashboard's and the skills page's charts as Chromium draws them: today is named on
the day axes, a point at a bound (retention 100 %, a rating of 1 or 5) is drawn whole
inside the plot, and the 21-day forecast shows the server's counts. Screenshots go to
artifacts_dir/screenshots/charts-*.png."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from learning import scheduling, services
from learning.answers import Checked
from learning.models import LearnerCard
from tests.conftest import logged_in_context, wait_in_page
from tests.learning.factories_learner import make_content, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The chart's own numbers, read through Chart.js's API: labels as drawn on the x axis,
# the y pixel of every point, the plot area and the y ticks.
CHART_FACTS = """id => {
  const chart = Chart.getChart(document.getElementById(id));
  const meta = chart.getDatasetMeta(0);
  return {
    xLabels: chart.scales.x.ticks.map(t => t.label),
    yTicks: chart.scales.y.ticks.map(t => t.value),
    top: chart.chartArea.top, bottom: chart.chartArea.bottom,
    points: meta.data.filter(p => !p.skip).map(p => ({ y: p.y, r: p.options.radius || 0 })),
    data: chart.data.datasets[0].data,
  };
}"""


def _page(browser, live_server, user, *, width=1280, height=900):
    context = logged_in_context(
        browser, live_server, user, viewport={"width": width, "height": height}
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


def _whole_inside(facts) -> bool:
    return all(
        p["y"] - p["r"] >= facts["top"] - 0.5 and p["y"] + p["r"] <= facts["bottom"] + 0.5
        for p in facts["points"]
    )


def test_dashboard_charts_name_today_and_show_the_forecast(browser, live_server, artifacts_dir):
    (artifacts_dir / "screenshots").mkdir(parents=True, exist_ok=True)
    content = make_content()
    ada = make_user("ada", time_zone="Asia/Tokyo")
    now = timezone.now()
    for key in ("mc", "numeric"):  # two reviews today, both remembered: retention 100 %
        services.review_record(
            user=ada,
            item=content.items[key],
            checked=Checked(correct=True, rating=3, feedback=""),
            source="due",
            count_toward_schedule=True,
            now=now - dt.timedelta(seconds=5),
        )
    for key, days in (("free", 3), ("ordering", 10), ("ratio", 30)):  # the last is past the window
        due = now + dt.timedelta(days=days)
        LearnerCard.objects.create(
            user=ada,
            item=content.items[key],
            state=scheduling.card_new(now=due).to_dict(),
            due=due,
            created_at=now,
            updated_at=now,
        )
    due_days = sorted(
        (c.due.astimezone(dt.timezone(dt.timedelta(hours=9))).date())
        for c in LearnerCard.objects.filter(user=ada)
    )
    context, page, errors = _page(browser, live_server, ada)
    page.goto(f"{live_server.url}/")
    wait_in_page(
        page, "() => window.Chart && Chart.getChart(document.getElementById('forecast-chart'))"
    )

    retention = page.evaluate(CHART_FACTS, "retention-chart")
    assert retention["xLabels"][-1] == "Today"
    assert retention["data"][-1] == 100
    assert retention["yTicks"][0] == 0 and retention["yTicks"][-1] == 100
    assert retention["points"] and _whole_inside(retention), retention
    reviews = page.evaluate(CHART_FACTS, "reviews-chart")
    assert reviews["xLabels"][-1] == "Today" and reviews["data"][-1] == 2

    forecast = page.evaluate(CHART_FACTS, "forecast-chart")
    assert forecast["xLabels"][0] == "Today" and len(forecast["data"]) == 21
    # The two reviewed cards are due again on the local days FSRS gave them.
    today = timezone.now().astimezone(dt.timezone(dt.timedelta(hours=9))).date()
    expected = [0] * 21
    for day in due_days:
        offset = (day - today).days
        if offset < 21:
            expected[max(offset, 0)] += 1
    assert forecast["data"] == expected and sum(expected) == 4
    page.screenshot(
        path=str(artifacts_dir / "screenshots" / "charts-dashboard.png"), full_page=True
    )
    assert errors == []
    context.close()


def test_skill_charts_draw_ratings_1_and_5_whole(browser, live_server, artifacts_dir):
    (artifacts_dir / "screenshots").mkdir(parents=True, exist_ok=True)
    content = make_content()
    ada = make_user("ada")
    now = timezone.now()
    low, high, mid = (s.pk for s in content.skills)
    services.skills_rate(
        user=ada,
        chapter=content.chapter,
        scores={low: 1, high: 5, mid: 3},
        now=now - dt.timedelta(days=2),
    )
    services.skills_rate(
        user=ada, chapter=content.chapter, scores={low: 1, high: 5, mid: 4}, now=now
    )
    context, page, errors = _page(browser, live_server, ada)
    page.goto(f"{live_server.url}/skills/history/")
    wait_in_page(
        page,
        "() => window.Chart && document.querySelectorAll('canvas.skill-chart').length === 3 && [...document.querySelectorAll('canvas.skill-chart')].every(c => Chart.getChart(c))",
    )
    for index, rating in ((0, 1), (1, 5)):
        canvas_id = page.evaluate(
            "i => { const c = document.querySelectorAll('canvas.skill-chart')[i];"
            " c.id = 'skill-' + i; return c.id; }",
            index,
        )
        facts = page.evaluate(CHART_FACTS, canvas_id)
        assert facts["data"] == [rating, rating]
        assert facts["yTicks"] == [1, 2, 3, 4, 5]
        assert len(facts["points"]) == 2 and _whole_inside(facts), facts
        assert all(p["r"] > 0 for p in facts["points"])
    page.screenshot(path=str(artifacts_dir / "screenshots" / "charts-skills.png"), full_page=True)
    assert errors == []
    context.close()
