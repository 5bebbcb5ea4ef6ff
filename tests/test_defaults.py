"""Production-safe defaults: make run without DEBUG, /healthz details, API docs, tokens."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.models import ApiToken

ROOT = Path(__file__).resolve().parent.parent

SHOW_SETTINGS = (
    "from django.conf import settings; from django.test import Client; "
    "r = Client(HTTP_HOST='localhost').get('/no-such-page/'); "
    "print(settings.DEBUG, settings.HTTPS, r.status_code, b'Page not found' in r.content, "
    "b'URLconf' in r.content)"
)


def _make_run_env(extra: dict[str, str], var_dir: Path) -> subprocess.CompletedProcess:
    """`make run`'s own steps (collectstatic, then serve with a probe in its place)."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("needs make")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env |= {"VAR_DIR": str(var_dir), **extra}
    lines = subprocess.run(
        [make, "-n", "run"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    steps = [line for line in lines if "manage.py collectstatic" in line]
    serve = next(line for line in lines if line.endswith("manage.py serve"))
    steps.append(serve.replace("manage.py serve", f'manage.py shell -v 0 -c "{SHOW_SETTINGS}"'))
    command = " && ".join(step.replace(".venv/bin/python", sys.executable) for step in steps)
    return subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_make_run_serves_without_debug_and_shows_our_404_page(tmp_path):
    result = _make_run_env({}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False", "404", "True", "False"]


def test_make_run_with_django_debug_1_is_the_development_server(tmp_path):
    result = _make_run_env({"DJANGO_DEBUG": "1"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["True", "False"]


@pytest.mark.django_db
def test_healthz_gives_details_to_localhost_and_staff_and_a_bare_status_to_others(
    django_user_model,
):
    outside = Client(REMOTE_ADDR="203.0.113.9")
    response = outside.get("/healthz")
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert "database" in Client().get("/healthz").json()  # 127.0.0.1
    assert "database" in Client(REMOTE_ADDR="::1").get("/healthz").json()
    staff = Client(REMOTE_ADDR="203.0.113.9")
    staff.force_login(django_user_model.objects.create_user("op", is_staff=True))
    assert "sandbox" in staff.get("/healthz").json()
    learner = Client(REMOTE_ADDR="203.0.113.9")
    learner.force_login(django_user_model.objects.create_user("ada"))
    assert learner.get("/healthz").json() == {"ok": True}


@pytest.mark.django_db
def test_the_api_docs_and_schema_need_a_login(client, django_user_model):
    for path in ("/api/docs", "/api/openapi.json"):
        response = client.get(path)
        assert response.status_code == 302 and reverse("login") in response["Location"]
    client.force_login(django_user_model.objects.create_user("ada"))
    assert client.get("/api/docs").status_code == 200


@pytest.mark.django_db
def test_a_token_expires_after_api_token_days_and_shows_when_it_was_last_used(
    client, django_user_model, settings
):
    settings.API_TOKEN_DAYS = 30
    ada = django_user_model.objects.create_user("ada")
    token, key = account_services.api_token_create(user=ada)
    assert token.expires_at - timezone.now() > dt.timedelta(days=29)
    assert account_services.api_token_authenticate(key=key) == ada
    client.force_login(ada)
    page = client.get(reverse("api-tokens")).content.decode()
    used = ApiToken.objects.get().last_used_at
    assert used is not None and timezone.localtime(used, dt.UTC).strftime("%Y-%m-%d %H:%M") in page
    ApiToken.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert account_services.api_token_authenticate(key=key) is None
    assert "expired" in client.get(reverse("api-tokens")).content.decode()
    api = client_for_token(key).get("/api/submissions/1")
    assert api.status_code == 401


def test_a_token_made_with_api_token_days_0_never_expires(db, django_user_model, settings):
    settings.API_TOKEN_DAYS = 0
    token, key = account_services.api_token_create(user=django_user_model.objects.create_user("b"))
    assert token.expires_at is None and account_services.api_token_authenticate(key=key)


def client_for_token(key: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def test_settings_document_every_new_variable():
    text = (ROOT / "config" / "settings.py").read_text()
    for name in ("DJANGO_HTTPS", "API_TOKEN_DAYS", "GRADING_MAX_ACTIVE", "CACHE_URL"):
        assert re.search(rf"^\| {name}", text, re.M), name
