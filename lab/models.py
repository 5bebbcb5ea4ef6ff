"""One lab run: settings in, raw curves out, as the worker stored them."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class LabRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    exercise = models.CharField(max_length=40)
    code = models.TextField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    settings = models.JSONField(default=dict)  # layers, steps, batch, lr, seed
    device = models.CharField(max_length=16, default="cpu")
    result = models.JSONField(default=dict, blank=True)  # {"networks": [...]} raw numbers
    # Partial curves while it runs (lab/progress.py), stored every few seconds; shown
    # until the result comes, and never used for it.
    progress = models.JSONField(default=dict, blank=True)
    detail = models.TextField(blank=True)  # why it failed, for the learner
    wall_s = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"lab #{self.pk} {self.exercise} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE
