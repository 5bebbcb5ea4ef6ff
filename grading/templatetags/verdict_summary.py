"""The verdict's first cause: the one failure to read before the per-test table."""

from __future__ import annotations

from django import template

from grading.models import Submission
from grading.selectors import VerdictRow, verdict_rows

register = template.Library()


@register.filter(name="first_failure")
def first_failure(submission: Submission) -> VerdictRow | None:
    """The first failing row of the table (a shared "not run" cause counts once), or None
    when every test passed or none ran."""
    return next(
        (row for row in verdict_rows(tests=list(submission.tests.all())) if not row.passed), None
    )
