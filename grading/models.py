"""Submissions, their per-test results, and API tokens.

The database is the source of truth for a submission's state; the broker only carries
its id. `status` moves queued -> running -> (passed | failed | error | sandbox_error), and
the queued -> running step is one guarded UPDATE, so exactly one worker grades a row.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Submission(models.Model):
    class Kind(models.TextChoices):
        SAMPLE = "sample", "Sample tests"
        SUBMIT = "submit", "Submission"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"
        ERROR = "error", "Error"  # the candidate's code: syntax, runtime, timeout, memory...
        SANDBOX_ERROR = "sandbox_error", "Grading system error"  # ours, never theirs

    FINAL = (Status.PASSED, Status.FAILED, Status.ERROR, Status.SANDBOX_ERROR)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions"
    )
    exercise = models.SlugField(max_length=120)
    code = models.TextField()
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SUBMIT)
    on_gpu = models.BooleanField(
        default=False, help_text="also run the device tests on a GPU worker (grade.gpu)"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    score = models.FloatField(null=True, blank=True, help_text="tests passed / total")
    passed = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    error_kind = models.CharField(max_length=40, blank=True)
    message = models.TextField(blank=True, help_text="what the learner is told")
    stderr_excerpt = models.TextField(blank=True)
    detail = models.TextField(blank=True, help_text="our diagnostics; staff only")
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="retries after a sandbox error or a lost worker"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField(
        null=True, blank=True, help_text="past this, the sweeper re-enqueues a queued/running row"
    )
    backend = models.CharField(max_length=20, blank=True)
    wall_s = models.FloatField(null=True, blank=True)
    idempotency_key = models.CharField(  # noqa: DJ001 - NULL: no key, outside the unique
        max_length=200,
        null=True,
        blank=True,
        help_text="the client's Idempotency-Key: a retried POST returns this submission",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "deadline"], name="submission_status_deadline"),
            models.Index(
                fields=["user", "exercise", "-created_at"], name="submission_user_exercise"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="submission_user_idempotency_key",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.exercise} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    @property
    def score_percent(self) -> int | None:
        return None if self.score is None else round(self.score * 100)


class TestResult(models.Model):
    __test__ = False  # a model, not a pytest class

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="tests")
    order = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=40)
    passed = models.BooleanField()
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["submission", "order"]
        constraints = [
            models.UniqueConstraint(fields=["submission", "order"], name="testresult_unique_order")
        ]

    def __str__(self) -> str:
        return f"{self.name}: {'pass' if self.passed else 'fail'}"


class ScratchRun(models.Model):
    """One run of the scratch console: the learner's code and script, and the raw output.

    Not a grading: no test, no score, nothing hidden. `outcome` is the sandbox's own
    status (ok, runtime_error, timeout, memory_limit, output_limit, sandbox_error) or
    not_queued when the broker could not be reached.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Could not run"  # ours: no sandbox, no queue

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scratch_runs"
    )
    exercise = models.SlugField(max_length=120)
    code = models.TextField()
    script = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    outcome = models.CharField(max_length=20, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    stdout = models.TextField(blank=True)
    stderr = models.TextField(blank=True)
    stdout_truncated = models.BooleanField(default=False)
    stderr_truncated = models.BooleanField(default=False)
    wall_s = models.FloatField(null=True, blank=True)
    backend = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="scratchrun_user_created")]

    def __str__(self) -> str:
        return f"scratch #{self.pk} {self.exercise} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status not in self.ACTIVE
