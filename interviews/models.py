"""Mock-interview attempts and answers.

The server keeps the clock: `deadline` is fixed when the attempt starts (start plus the
script's duration times the learner's extra-time factor), so reloading the page never
restarts it. An untimed attempt (WCAG 2.2.1) has no deadline.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from quizbank.models import MockScript, MockStep


class MockAttempt(models.Model):
    class EndReason(models.TextChoices):
        SUBMITTED = "submitted", "Submitted by the learner"
        EXPIRED = "expired", "Time ran out"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mock_attempts"
    )
    script = models.ForeignKey(MockScript, on_delete=models.PROTECT, related_name="attempts")
    started_at = models.DateTimeField()
    time_factor = models.FloatField(default=1.0, help_text="1.0, or more for extra time")
    untimed = models.BooleanField(default=False)
    deadline = models.DateTimeField(null=True, blank=True, help_text="null when untimed")
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=20, choices=EndReason.choices, blank=True)
    interviewer_token = models.CharField(
        max_length=64,
        blank=True,
        db_index=True,
        help_text="secret of the peer-interviewer link for this attempt; blank when none",
    )

    class Meta:
        db_table = "quizbank_mockattempt"  # made when this lived in quizbank; rows kept
        ordering = ["user", "-started_at"]
        indexes = [models.Index(fields=["user", "ended_at"], name="mock_attempt_open")]
        constraints = [
            # one clock per learner and script: a double click cannot start a second one
            models.UniqueConstraint(
                fields=["user", "script"],
                condition=models.Q(ended_at__isnull=True),
                name="mock_attempt_one_running",
            )
        ]

    def __str__(self) -> str:
        return f"{self.script.slug} by {self.user} at {self.started_at:%Y-%m-%d %H:%M}"


class MockAnswer(models.Model):
    """The learner's answer to one step, autosaved; self-review fills the rest after the end."""

    attempt = models.ForeignKey(MockAttempt, on_delete=models.CASCADE, related_name="answers")
    step = models.ForeignKey(MockStep, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(blank=True)
    saved_at = models.DateTimeField()
    rubric_ticked = models.JSONField(default=list, blank=True, help_text="RubricPoint ids")
    traps_hit = models.JSONField(default=list, blank=True, help_text="trap phrases found")
    interviewer_score = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="1-4 from a peer playing the interviewer"
    )
    interviewer_comment = models.TextField(blank=True)

    class Meta:
        db_table = "quizbank_mockanswer"
        ordering = ["attempt", "step__order"]
        constraints = [
            models.UniqueConstraint(fields=["attempt", "step"], name="mock_answer_unique")
        ]

    def __str__(self) -> str:
        return f"answer to {self.step} in attempt {self.attempt_id}"


class MockRun(models.Model):
    """A grading made inside an implementation round: the learner's "Run sample tests" or
    "Submit" during the attempt, or the final grading of the last saved code when the
    attempt ended. The Submission itself is grading's; this row says which attempt and
    step it belongs to. `refused` holds why no Submission could be made (e.g. code over
    the size limit), so the review can say so."""

    attempt = models.ForeignKey(MockAttempt, on_delete=models.CASCADE, related_name="runs")
    step = models.ForeignKey(MockStep, on_delete=models.PROTECT, related_name="+")
    submission = models.OneToOneField(
        "grading.Submission",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="mock_run",
    )
    at_end = models.BooleanField(
        default=False, help_text="made when the attempt ended, from the last saved code"
    )
    refused = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["attempt", "step", "-created_at", "-id"]

    def __str__(self) -> str:
        return f"run of {self.step} in attempt {self.attempt_id}"
