"""Template filters of learner pages; `markdown` is the one sanitised renderer."""

from __future__ import annotations

from django import template

from quizbank.rendering import markdown_to_html

register = template.Library()


def render_markdown(text: str) -> str:
    """The shared, sanitised renderer (quizbank.rendering), for code that wants a string."""
    return str(markdown_to_html(text))


@register.filter(name="markdown")
def markdown_filter(text: str) -> str:
    return markdown_to_html(text)


@register.filter
def rating_label(value: int) -> str:
    return {1: "Again", 2: "Hard", 3: "Good", 4: "Easy"}.get(int(value or 0), "")
