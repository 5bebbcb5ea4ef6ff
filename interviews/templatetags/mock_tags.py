"""Template helpers of the mock pages."""

from __future__ import annotations

from django import template

from interviews.layout import Layout, layout_from

register = template.Library()


@register.simple_tag
def mock_layout(request, count: int) -> Layout:
    """{% mock_layout request steps|length as layout %}: the attempt page's layout."""
    return layout_from(request.GET, count=count)


@register.filter
def topics(steps) -> list[tuple[str, int]]:
    """What a script covers, each topic once in the order first met, with how many of
    its questions are about it: a part asked twice is one line, not two."""
    counts: dict[str, int] = {}
    for step in steps:
        if step.item_id:
            label = step.item.part.title
        else:
            label = f"Exercise: {step.exercise.title}"
        counts[label] = counts.get(label, 0) + 1
    return list(counts.items())
