"""Filters for the verdict fragment: its table rows and the line its error points at."""

from __future__ import annotations

from django import template

from grading.models import Submission
from grading.selectors import VerdictRow, error_line, verdict_rows

register = template.Library()


@register.filter(name="verdict_rows")
def verdict_rows_filter(submission: Submission) -> list[VerdictRow]:
    return verdict_rows(tests=list(submission.tests.all()))


@register.filter(name="error_line")
def error_line_filter(submission: Submission) -> int | None:
    failed = [t.message for t in submission.tests.all() if not t.passed]
    return error_line(stderr=submission.stderr_excerpt, messages=failed)
