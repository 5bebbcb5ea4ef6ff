"""Writes for accounts: the learner's time zone and API tokens."""

from __future__ import annotations

import hashlib
import secrets
import zoneinfo
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import ApiToken, LearnerProfile


def profile_get_or_create(*, user: AbstractBaseUser) -> LearnerProfile:
    profile, _ = LearnerProfile.objects.get_or_create(user=user)
    return profile


@transaction.atomic
def profile_set_time_zone(*, user: AbstractBaseUser, time_zone: str) -> LearnerProfile:
    if time_zone not in zoneinfo.available_timezones():
        raise ValueError(f"unknown time zone {time_zone!r}")
    profile = profile_get_or_create(user=user)
    profile.time_zone = time_zone
    profile.save(update_fields=["time_zone"])
    return profile


# --- API tokens ------------------------------------------------------------------------


def _token_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def api_token_create(*, user: AbstractBaseUser, name: str = "") -> tuple[ApiToken, str]:
    """A new token and its key; the key is not stored and cannot be shown again.

    It expires API_TOKEN_DAYS after creation (never when the setting is 0).
    """
    key = secrets.token_urlsafe(30)  # 40 characters, 240 random bits
    days = settings.API_TOKEN_DAYS
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=key[:8],
        key_hash=_token_hash(key),
        expires_at=timezone.now() + timedelta(days=days) if days > 0 else None,
    )
    return token, key


def api_token_authenticate(*, key: str) -> AbstractBaseUser | None:
    if not key:
        return None
    now = timezone.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_token_hash(key), user__is_active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .first()
    )
    if token is None:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def api_token_revoke(*, user: AbstractBaseUser, token_id: int) -> bool:
    deleted, _ = ApiToken.objects.filter(pk=token_id, user=user).delete()
    return bool(deleted)
