"""Number keys pick a multiple-choice option in a real Chromium, in the shuffled order the
learner sees (key 1 is the first option on the screen, not the first in the YAML)."""

from __future__ import annotations

import pytest

from learning.models import ReviewLogEntry
from quizbank.shuffling import options_for
from tests.learning.factories_learner import make_content, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_number_key_selects_the_option_shown_at_that_place(live_server, browser):
    content = make_content()
    user = make_user("grace", password="Residual-Learning-2015")
    item = content.items["mc"]
    shown = options_for(item=item, user=user)
    key = next(n for n, option in enumerate(shown, 1) if option.correct)
    page = browser.new_page()
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", "grace")
    page.fill("input[name=password]", "Residual-Learning-2015")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/practice/degradation/?n=0")
    page.locator("#card .prompt").click()
    page.keyboard.press(str(key))
    checked = page.locator("#card input[name=choice]:checked")
    assert checked.count() == 1 and checked.get_attribute("value") == str(shown[key - 1].pk)
    page.locator("#card .prompt").click()
    page.keyboard.press("Enter")
    page.wait_for_selector("#card .rating-given")
    assert ReviewLogEntry.objects.get(user=user, item=item).correct is True
