"""Bounded abuse: runs in flight, mock starts, tokens, sign-ups and wrong passwords."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from django.urls import reverse

from accounts.limits import RateLimited, rate_hit, rate_parse
from accounts.models import ApiToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(client, django_user_model):
    user = django_user_model.objects.create_user(username="ada", password="pw-for-tests-1")
    client.force_login(user)
    return user


def test_rates_parse_and_refuse_nonsense():
    assert rate_parse("10/hour").window_s == 3600
    assert rate_parse("3/30s") == rate_parse("3/30second")
    assert rate_parse("5/m").count == 5
    for bad in ("ten/hour", "5/fortnight", "5", "5/x1h"):
        with pytest.raises(ValueError):
            rate_parse(bad)


def test_a_rate_refuses_the_event_past_its_count_until_the_window_ends():
    rate = rate_parse("2/minute")
    rate_hit(scope="t", key="k", rate=rate, now=600.0)
    rate_hit(scope="t", key="k", rate=rate, now=610.0)
    with pytest.raises(RateLimited) as refused:
        rate_hit(scope="t", key="k", rate=rate, now=630.0)
    assert refused.value.retry_after_s == 30
    rate_hit(scope="t", key="other", rate=rate, now=630.0)  # another key has its own count
    rate_hit(scope="t", key="k", rate=rate, now=660.0)  # the next window


@override_settings(RATE_LIMITS={"token_create": "2/hour", "mock_start": "1/hour", "signup": "1/h"})
def test_token_creation_is_rated_per_learner(client, ada):
    url = reverse("api-tokens")
    for _ in range(2):
        assert client.post(url, {"action": "create"}).status_code == 200
    refused = client.post(url, {"action": "create"}, follow=False)
    assert refused.status_code == 302 and int(refused["Retry-After"]) > 0
    page = client.get(url)
    assert "No token was made" in page.content.decode()
    assert ApiToken.objects.filter(user=ada).count() == 2


@override_settings(RATE_LIMITS={"token_create": "2/hour", "mock_start": "2/hour", "signup": "1/h"})
def test_mock_starts_are_rated_per_learner(client, ada):
    from interviews.models import MockAttempt
    from tests.learning.factories_learner import make_content

    content = make_content()
    url = reverse("mock-start", args=[content.mock.slug])
    for _ in range(2):
        attempt = MockAttempt.objects.filter(user=ada).first()
        if attempt:  # submitting ends it, so the next POST really starts one
            client.post(reverse("mock-submit", args=[attempt.pk]))
        client.post(url, {"time": "standard"})
    before = MockAttempt.objects.filter(user=ada).count()
    for attempt in MockAttempt.objects.filter(user=ada):
        client.post(reverse("mock-submit", args=[attempt.pk]))
    refused = client.post(url, {"time": "standard"})
    assert refused.status_code == 302 and int(refused["Retry-After"]) > 0
    assert MockAttempt.objects.filter(user=ada).count() == before == 2
    assert "No new mock started" in client.get(reverse("mock-list")).content.decode()


@override_settings(RATE_LIMITS={"token_create": "2/hour", "mock_start": "2/hour", "signup": "2/h"})
def test_sign_ups_are_rated_per_address(client):
    def sign_up(name):
        return client.post(
            reverse("signup"),
            {
                "username": name,
                "password1": "a-long-Passphrase-91",
                "password2": "a-long-Passphrase-91",
                "time_zone": "UTC",
            },
        )

    for name in ("one", "two"):
        assert sign_up(name).status_code == 302
        client.post(reverse("logout"))
    refused = sign_up("three")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "No account was made" in refused.content.decode()
    assert not User.objects.filter(username="three").exists()


@override_settings(AXES_FAILURE_LIMIT=3)
def test_wrong_passwords_lock_the_name_out_even_for_the_right_password(client):
    User.objects.create_user("cy", password="right-Passphrase-77")
    url = reverse("login")
    for _ in range(2):
        assert client.post(url, {"username": "cy", "password": "wrong"}).status_code == 200
    locked = client.post(url, {"username": "cy", "password": "wrong"})
    assert locked.status_code == 429
    assert "Too many wrong passwords" in locked.content.decode()
    right = client.post(url, {"username": "cy", "password": "right-Passphrase-77"})
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session
