"""The one Markdown renderer: content editors cannot put script into a learner's page."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.template import Context, Template
from django.urls import reverse

from quizbank.rendering import markdown_to_html
from tests.learning.factories_learner import make_content, make_user

ATTACKS = [
    '<img src=x onerror="alert(1)">',
    "<script>alert(1)</script>",
    '<a href="javascript:alert(1)">x</a>',
    "[x](javascript:alert(1))",
    "![x](data:text/html;base64,PHNjcmlwdD4=)",
    '<div style="background:url(x)" onclick="alert(1)">y</div>',
    "<iframe src=https://example.org></iframe>",
]


class _Dangers(HTMLParser):
    """What in a piece of HTML a browser would run or load: not what is shown as text."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "iframe", "object", "embed", "style"):
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.found.append(f"{tag} {name}")
            if name in ("href", "src") and (value or "").strip().lower().startswith(
                ("javascript:", "data:", "vbscript:")
            ):
                self.found.append(f"{tag} {name}={value}")


def dangers(html: str) -> list[str]:
    parser = _Dangers()
    parser.feed(html)
    return parser.found


def test_the_detector_sees_what_a_browser_would_run():
    assert dangers(ATTACKS[0]) == ["img onerror"]
    assert dangers('<a href=" JavaScript:x">') == ["a href= JavaScript:x"]


@pytest.mark.parametrize("source", ATTACKS)
def test_no_script_handler_or_unsafe_url_survives(source):
    html = str(markdown_to_html(source))
    assert dangers(html) == [], html


def test_markdown_math_and_code_still_render():
    html = str(markdown_to_html("A **bold** $F(x) + x$ and\n\n```python\nx = 1\n```\n"))
    assert "<strong>bold</strong>" in html
    assert "$F(x) + x$" in html  # kept verbatim for KaTeX
    assert 'class="codehilite"' in html and "style=" not in html
    assert '<a href="https://example.org" rel="noopener noreferrer">' in str(
        markdown_to_html("[a](https://example.org)")
    )


def test_raw_html_is_shown_as_text_as_the_author_typed_it():
    assert "&lt;part&gt;" in str(markdown_to_html("the `<part>` tag and <part> too"))


def test_the_template_filter_is_the_same_renderer():
    rendered = Template("{% load learner_tags %}{{ text|markdown }}").render(
        Context({"text": ATTACKS[0]})
    )
    assert dangers(rendered) == [] and rendered == str(markdown_to_html(ATTACKS[0]))


@pytest.mark.django_db
def test_a_staff_edited_prompt_cannot_run_script_on_the_practice_page(client):
    content = make_content()
    item = content.items["mc"]
    item.prompt = 'Why? <img src=x onerror="alert(document.cookie)">'
    item.save()
    client.force_login(make_user())
    page = client.get(reverse("practice-part", args=[item.part.slug]))
    body = page.content.decode()
    assert page.status_code == 200 and "Why?" in body
    assert "img onerror" not in dangers(body)
