"""Accounts: sign-up, log-in, password change, time zone, API tokens."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from accounts import services
from accounts.models import LearnerProfile

pytestmark = pytest.mark.django_db


@pytest.fixture
def learner(django_user_model):
    return django_user_model.objects.create_user(username="ada", password="pw-for-tests-1")


@pytest.fixture
def client_in(client, learner):
    client.force_login(learner)
    return client


@pytest.mark.django_db
def test_signup_creates_an_account_with_the_chosen_time_zone_and_logs_in(client):
    response = client.post(
        reverse("signup"),
        {
            "username": "ada",
            "password1": "a-long-Passphrase-91",
            "password2": "a-long-Passphrase-91",
            "time_zone": "Europe/Berlin",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="ada")
    assert LearnerProfile.objects.get(user=user).time_zone == "Europe/Berlin"
    assert client.get(reverse("home")).status_code == 200


@pytest.mark.django_db
def test_signup_refuses_mismatched_passwords_and_an_unknown_time_zone(client):
    response = client.post(
        reverse("signup"),
        {
            "username": "bob",
            "password1": "a-long-Passphrase-91",
            "password2": "different-Passphrase-91",
            "time_zone": "Mars/Olympus",
        },
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "password2" in form.errors and "time_zone" in form.errors
    assert not User.objects.filter(username="bob").exists()


@pytest.mark.django_db
def test_login_logout_and_password_change(client):
    User.objects.create_user("cy", password="old-Passphrase-77")
    assert client.get(reverse("login")).status_code == 200
    response = client.post(reverse("login"), {"username": "cy", "password": "old-Passphrase-77"})
    assert response.status_code == 302
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "old-Passphrase-77",
            "new_password1": "new-Passphrase-88",
            "new_password2": "new-Passphrase-88",
        },
    )
    assert response.status_code == 302
    client.post(reverse("logout"))
    assert client.get(reverse("due")).status_code == 302
    response = client.post(reverse("login"), {"username": "cy", "password": "new-Passphrase-88"})
    assert response.status_code == 302


@pytest.mark.django_db
def test_time_zone_can_be_changed_in_settings(client):
    user = User.objects.create_user("di", password="Passphrase-123")
    client.force_login(user)
    client.post(reverse("account-settings"), {"time_zone": "Asia/Tokyo"})
    assert LearnerProfile.objects.get(user=user).time_zone == "Asia/Tokyo"


def test_api_tokens_are_stored_hashed_and_authenticate_only_their_user(learner):
    token, key = services.api_token_create(user=learner, name="laptop")
    assert len(key) == 40 and key not in token.key_hash and token.prefix == key[:8]
    assert services.api_token_authenticate(key=key) == learner
    assert services.api_token_authenticate(key=key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert services.api_token_revoke(user=learner, token_id=token.pk)
    assert services.api_token_authenticate(key=key) is None


def test_the_token_page_shows_a_new_token_once(client_in, learner):
    response = client_in.post(reverse("api-tokens"), {"action": "create", "name": "ci"})
    key = response.context["new_key"]
    assert key and key in response.content.decode()
    assert services.api_token_authenticate(key=key) == learner
    assert key not in client_in.get(reverse("api-tokens")).content.decode()


def test_the_api_token_command_prints_a_working_token(learner):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("api_token", "ada", "--name", "ci", stdout=out)
    assert services.api_token_authenticate(key=out.getvalue().strip()) == learner


@pytest.mark.django_db
def test_no_one_can_sign_up_as_the_cli_grading_account(client):
    from grading import services as grading_services

    name = grading_services.CLI_USERNAME
    response = client.post(
        reverse("signup"),
        {
            "username": name,
            "password1": "a-long-Passphrase-91",
            "password2": "a-long-Passphrase-91",
            "time_zone": "UTC",
        },
    )
    assert response.status_code == 200 and "username" in response.context["form"].errors
    assert not User.objects.filter(username=name).exists()


@pytest.mark.django_db
def test_a_learner_named_like_the_old_cli_account_never_owns_cli_runs(client):
    from grading import services as grading_services

    learner = User.objects.create_user("grade-cli", password="a-long-Passphrase-91")
    owner = grading_services.grading_cli_user()
    assert owner != learner and not owner.is_active and not owner.has_usable_password()
    assert grading_services.grading_cli_user() == owner
