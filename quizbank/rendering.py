"""The one Markdown renderer for every Markdown field a page shows.

Content is written by staff, and staff accounts can be lent or stolen, so what they
write is untrusted HTML like any other: raw HTML in the source is shown as text, and
the rendered HTML is then cleaned by nh3 (an allow-list of tags, attributes and URL
schemes), so no script, event handler, style or javascript:/data: URL reaches a page.
Math is lifted out before Markdown (which would eat LaTeX's backslashes and
underscores) and put back escaped, for KaTeX's auto-render to find in the page.
Code blocks are highlighted on the server with CSS classes (static/css/pygments.css),
not inline styles, which the Content-Security-Policy would refuse.
"""

from __future__ import annotations

import html
import re

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown.extensions import Extension

_MATH = re.compile(r"\$\$.+?\$\$|\\\[.+?\\\]|\\\(.+?\\\)|(?<![\\$])\$[^$\n]+?\$", re.DOTALL)

_TAGS = set(nh3.ALLOWED_TAGS) - {"area", "map"}
_ATTRIBUTES = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
for _tag in ("code", "div", "pre", "span"):
    _ATTRIBUTES.setdefault(_tag, set()).add("class")  # the highlighter's classes
_URL_SCHEMES = {"http", "https", "mailto"}


class _NoRawHtml(Extension):
    """Raw HTML in the source is kept as text, as the author typed it."""

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 - the library's name
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")


def sanitize_html(text: str) -> str:
    """Keep only allow-listed tags, attributes and URL schemes."""
    return nh3.clean(
        text,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer",
    )


def markdown_to_html(text: str | None) -> SafeString:
    """Markdown (with $math$ kept for KaTeX) to sanitised HTML, safe to put in a page."""
    spans: list[str] = []

    def lift(match: re.Match[str]) -> str:
        spans.append(match.group(0))
        return f"KATEXSPAN{len(spans) - 1}Z"

    lifted = _MATH.sub(lift, text or "")
    rendered = markdown.markdown(
        lifted,
        extensions=["fenced_code", "codehilite", "tables", "sane_lists", _NoRawHtml()],
        extension_configs={
            "codehilite": {"guess_lang": False, "css_class": "codehilite"},
            "tables": {"use_align_attribute": True},
        },
        output_format="html",
    )
    rendered = re.sub(r"KATEXSPAN(\d+)Z", lambda m: html.escape(spans[int(m.group(1))]), rendered)
    return mark_safe(sanitize_html(rendered))  # noqa: S308 - cleaned by nh3 just above
