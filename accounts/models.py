"""The learner's settings and API tokens.

Both tables keep the names they had before this app existed (`quizbank_learnerprofile`,
`grading_apitoken`), so databases made before the split migrate without copying rows.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class LearnerProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    time_zone = models.CharField(max_length=64, default="UTC")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "quizbank_learnerprofile"

    def __str__(self) -> str:
        return f"profile of {self.user}"


class ApiToken(models.Model):
    """A bearer token for the JSON API. Only its SHA-256 is stored; the key is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=8, help_text="first characters, to tell tokens apart")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="refused from then on; empty: never (API_TOKEN_DAYS=0)"
    )

    class Meta:
        db_table = "grading_apitoken"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"
