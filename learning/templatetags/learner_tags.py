"""Markdown with math left intact for KaTeX, and code highlighted on the server."""

from __future__ import annotations

import html
import re

import markdown as md
from django import template
from django.utils.safestring import mark_safe

register = template.Library()

# Markdown would eat the backslashes and underscores of LaTeX, so math spans are lifted out
# first and put back, escaped, for KaTeX's auto-render to find in the page.
_MATH = re.compile(r"\$\$.+?\$\$|\\\[.+?\\\]|\\\(.+?\\\)|(?<![\\$])\$[^$\n]+?\$", re.DOTALL)


def render_markdown(text: str) -> str:
    spans: list[str] = []

    def lift(match: re.Match) -> str:
        spans.append(match.group(0))
        return f"KATEXSPAN{len(spans) - 1}Z"

    lifted = _MATH.sub(lift, text or "")
    rendered = md.markdown(
        lifted,
        extensions=["fenced_code", "codehilite", "tables", "sane_lists"],
        extension_configs={"codehilite": {"noclasses": True, "guess_lang": False}},
        output_format="html",
    )
    return re.sub(r"KATEXSPAN(\d+)Z", lambda m: html.escape(spans[int(m.group(1))]), rendered)


@register.filter(name="markdown")
def markdown_filter(text: str) -> str:
    return mark_safe(render_markdown(text))  # noqa: S308 - content comes from the repo's YAML


@register.filter
def rating_label(value: int) -> str:
    return {1: "Again", 2: "Hard", 3: "Good", 4: "Easy"}.get(int(value or 0), "")
