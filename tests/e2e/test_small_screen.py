"""A phone-sized Chromium (375 px wide): nothing scrolls sideways, every rating column of
the skills grid is on screen, the navigation fits, and the mock's sticky clock is one
line. Screenshots go to artifacts_dir/screenshots/small-*.png."""

from __future__ import annotations

import pytest

from interviews import services as mock_services
from learning import services
from quizbank.models import MockStep
from tests.conftest import logged_in_context
from tests.learning.factories_learner import make_content, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 375

# Every element (or the page) whose content is wider than its box, i.e. hides a scroll.
OVERFLOWS = """() => {
  const found = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth) found.push('page ' + root.scrollWidth);
  for (const el of document.querySelectorAll('body *')) {
    const style = getComputedStyle(el);
    if (!['auto', 'scroll'].includes(style.overflowX)) continue;
    if (el.scrollWidth > el.clientWidth) found.push((el.id || el.className || el.tagName) + ' ' + el.scrollWidth + '>' + el.clientWidth);
  }
  return found;
}"""

# Boxes that stick out of the viewport on the right (or left).
OUTSIDE = """([selector, width]) => [...document.querySelectorAll(selector)]
  .map(el => el.getBoundingClientRect())
  .filter(r => r.width > 0 && (r.left < 0 || r.right > width))
  .map(r => [r.left, r.right])"""


@pytest.fixture
def shots(artifacts_dir):
    folder = artifacts_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _phone(browser, live_server, user):
    context = logged_in_context(
        browser, live_server, user,
        viewport={"width": WIDTH, "height": 740}, device_scale_factor=2, is_mobile=True,
    )  # fmt: skip
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


def test_skills_grid_and_navigation_fit_a_phone(browser, live_server, shots):
    content = make_content()
    ada = make_user("ada")
    services.plan_start(user=ada, chapter=content.chapter)
    context, page, errors = _phone(browser, live_server, ada)
    page.goto(f"{live_server.url}/skills/")
    assert page.evaluate("() => window.innerWidth") == WIDTH
    assert page.evaluate(OVERFLOWS) == []
    radios = page.locator(".skills-form input[type=radio]")
    assert radios.count() == 5 * len(content.skills)
    assert page.evaluate(OUTSIDE, [".skills-form input[type=radio]", WIDTH]) == []
    assert page.evaluate(OUTSIDE, [".skills-form th", WIDTH]) == []
    # the headings still say which column is which rating
    headers = page.locator(".skills-form thead th").all_inner_texts()
    assert [h.strip()[0] for h in headers[1:]] == ["1", "2", "3", "4", "5"]
    page.screenshot(path=str(shots / "small-1-skills.png"), full_page=True)

    # every navigation link is on screen, and the header is at most three lines
    assert page.evaluate(OUTSIDE, ["header.site a, header.site button", WIDTH]) == []
    header = page.locator("header.site").bounding_box()
    assert header["height"] <= 110, header
    # a choice on the phone saves as on a laptop
    for skill in content.skills:
        page.locator(f"input[name=skill-{skill.pk}][value='4']").check()
    page.get_by_role("button", name="Save my ratings").click()
    page.wait_for_url(f"{live_server.url}/skills/history/")

    for path in ("/", "/due/", "/plan/", "/practice/", "/mock/", "/skills/history/"):
        page.goto(f"{live_server.url}{path}")
        assert page.evaluate(OVERFLOWS) == [], path
        assert page.evaluate(OUTSIDE, ["header.site a", WIDTH]) == [], path
    page.goto(f"{live_server.url}/")
    page.screenshot(path=str(shots / "small-2-dashboard.png"), full_page=True)
    assert errors == []
    context.close()


def test_the_mock_clock_is_one_line_on_a_phone(browser, live_server, shots):
    content = make_content()
    ada = make_user("ada", time_zone="America/Argentina/Buenos_Aires")
    for order, key in enumerate(("mc", "free", "numeric", "ordering"), start=1):
        MockStep.objects.create(script=content.mock, order=order, item=content.items[key])
    attempt = mock_services.mock_start(user=ada, script=content.mock)
    context, page, errors = _phone(browser, live_server, ada)
    page.goto(f"{live_server.url}/mock/attempt/{attempt.pk}/")
    page.locator("#mock-remaining").wait_for()
    assert page.evaluate(OVERFLOWS) == []
    clock = page.locator("#mock-clock")
    # The bar's content box is one line high: no taller than the tallest line-height of the
    # clock line's text (the countdown's larger font sets it).
    heights = page.evaluate(
        """() => {
      const bar = document.querySelector('#mock-clock');
      const line = bar.querySelector('.clock-line');
      const s = getComputedStyle(bar);
      const tallest = Math.max(...[line, ...line.querySelectorAll('*')]
        .filter(el => el.getClientRects().length)
        .map(el => parseFloat(getComputedStyle(el).lineHeight) || 0));
      return { inner: bar.clientHeight - parseFloat(s.paddingTop) - parseFloat(s.paddingBottom),
               line: line.getBoundingClientRect().height, tallest };
    }"""
    )
    assert heights["line"] <= heights["tallest"] * 1.25, heights
    assert heights["inner"] <= heights["tallest"] * 1.25, heights
    assert "Ends at" in clock.inner_text()
    # still sticky: scrolled to the last question, the clock is at the top of the screen
    page.locator(".mock-step").last.scroll_into_view_if_needed()
    assert page.evaluate("() => window.scrollY") > 300
    assert abs(clock.bounding_box()["y"]) < 1
    page.screenshot(path=str(shots / "small-3-mock-clock.png"))
    assert errors == []
    context.close()
