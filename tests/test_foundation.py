"""The runway: health endpoint, login-only pages, production settings, Celery wiring."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent
REMOTE_ASSET = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.IGNORECASE)


@pytest.mark.django_db
def test_healthz_reports_database_broker_and_sandbox(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["database"]["ok"] is True
    assert set(body) >= {"database", "broker", "sandbox"}
    assert "transport" in body["broker"]
    assert "backend" in body["sandbox"]


@pytest.mark.django_db
def test_healthz_broker_check_reaches_a_real_redis(client, redis_url, settings):
    settings.CELERY_BROKER_URL = redis_url
    body = client.get("/healthz").json()
    assert body["broker"] == {"ok": True, "transport": "redis"}


@pytest.mark.django_db
def test_healthz_reports_an_unreachable_broker_without_failing_the_web_side(client, settings):
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["broker"]["ok"] is False
    assert response.json()["broker"]["error"]


@pytest.mark.django_db
def test_healthz_names_the_sandbox_image_it_expects(client, sandbox_image):
    sandbox = client.get("/healthz").json()["sandbox"]
    assert sandbox_image in str(sandbox)


@pytest.mark.django_db
def test_learner_pages_require_login(client):
    response = client.get(reverse("due"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_production_settings_pass_check_deploy():
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "prep.example.org",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {**os.environ, "DJANGO_DEBUG": "0"}
    env.pop("DJANGO_SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_celery_speaks_json_only_with_prefetch_one_both_grading_queues_and_the_sweepers():
    from config.celery_app import app

    assert app.conf.accept_content == ["json"]
    assert app.conf.task_serializer == "json"
    assert app.conf.worker_prefetch_multiplier == 1
    assert {q.name for q in app.conf.task_queues} == {"grade.cpu", "grade.gpu", "grade.sweep"}


def test_pages_load_no_script_or_style_from_another_host():
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "templates").rglob("*.html")
        if REMOTE_ASSET.search(path.read_text())
    ]
    assert offenders == []


def test_every_vendored_asset_the_base_template_loads_is_on_disk():
    base = (ROOT / "templates" / "base.html").read_text()
    assets = re.findall(r"{% static '([^']+)' %}", base)
    assert assets, "the base template loads its assets through {% static %}"
    for asset in assets:
        assert (ROOT / "static" / asset).is_file(), asset
    versions = (ROOT / "static" / "vendor" / "VERSIONS.md").read_text()
    for library in ("htmx", "katex", "chart.js"):
        assert library in versions


@pytest.mark.django_db
def test_api_docs_page_uses_the_swagger_files_bundled_with_ninja_not_a_cdn(client):
    client.force_login(User.objects.create_user("ed", password="Passphrase-123"))
    response = client.get("/api/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui-bundle.js" in page
    assert not REMOTE_ASSET.search(page)


@pytest.mark.django_db
def test_healthz_reports_a_filesystem_broker_whose_folder_is_missing(client, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path / "absent")}
    broker = client.get("/healthz").json()["broker"]
    assert broker["ok"] is False and "absent" in broker["error"]


def test_a_fresh_var_folder_gets_the_filesystem_broker_folders(tmp_path):
    env = {**os.environ, "VAR_DIR": str(tmp_path / "var")}
    env.pop("CELERY_BROKER_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "broker" / "queue").is_dir()
    assert (tmp_path / "var" / "broker" / "processed").is_dir()
    assert (tmp_path / "var" / "broker" / "control").is_dir()
