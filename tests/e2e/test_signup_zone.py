"""Sign-up preselects the browser's time zone (Playwright sets the context's zone, as a
learner's machine would), and a zone the learner chose survives a refused post.
Screenshot: artifacts_dir/screenshots/signup-zone.png."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from accounts.selectors import learner_time_zone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Residual-Learning-2015"


def test_the_browsers_zone_is_preselected_and_saved(browser, live_server, artifacts_dir):
    context = browser.new_context(timezone_id="Asia/Kolkata")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/accounts/signup/")
    # Chromium's ICU answers with the older name of the zone, which zoneinfo also knows.
    zone = page.evaluate("() => Intl.DateTimeFormat().resolvedOptions().timeZone")
    assert zone in {"Asia/Kolkata", "Asia/Calcutta"}
    assert page.locator("select[name=time_zone]").input_value() == zone
    assert zone in page.locator("#time-zone-detected").inner_text()
    page.fill("input[name=username]", "ramanujan")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    (artifacts_dir / "screenshots").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(artifacts_dir / "screenshots" / "signup-zone.png"), full_page=True)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{live_server.url}/")
    user = get_user_model().objects.get(username="ramanujan")
    assert learner_time_zone(user=user) == zone
    assert errors == []
    context.close()


def test_a_chosen_zone_is_kept_when_the_post_is_refused(browser, live_server):
    context = browser.new_context(timezone_id="America/New_York")
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/signup/")
    assert page.locator("select[name=time_zone]").input_value() == "America/New_York"
    page.select_option("select[name=time_zone]", "Europe/Paris")  # travelling, say
    page.fill("input[name=username]", "noether")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD + "x")  # refused: the two differ
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_load_state()
    assert page.locator(".errorlist").count() >= 1
    assert page.locator("select[name=time_zone]").input_value() == "Europe/Paris"
    assert not get_user_model().objects.filter(username="noether").exists()
    context.close()
