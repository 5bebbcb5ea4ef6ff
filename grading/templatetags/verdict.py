"""Filters for the verdict fragment: its table rows and the line its error points at."""

from __future__ import annotations

from django import template
from django.utils import timezone

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


@register.filter(name="poll_delay_ms")
def poll_delay_ms(submission: Submission) -> int:
    """How long the page waits before asking again: short at first, backing off.

    With the warm pool most verdicts come within a second, so the first polls are 250 ms
    apart; a submission waiting in a queue is asked about less and less often.
    """
    since = submission.started_at or submission.queued_at or submission.created_at
    age = (timezone.now() - since).total_seconds() if since else 0.0
    for limit, delay in ((3, 250), (10, 500), (60, 1000)):
        if age < limit:
            return delay
    return 2000
