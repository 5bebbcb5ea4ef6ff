"""Settings, every one read from the environment with a safe local default.

| variable | default | meaning |
|---|---|---|
| DJANGO_DEBUG | 1 (`make run`: 0) | 0 in production: no debug pages |
| DJANGO_HTTPS | the opposite of DJANGO_DEBUG (`make run`: 0) | 1: secure cookies, HSTS, redirect to https |
| DJANGO_SECRET_KEY | generated once into var/secret_key | required when DJANGO_HTTPS=1 |
| DJANGO_ALLOWED_HOSTS | 127.0.0.1,localhost | comma separated |
| DJANGO_CSRF_TRUSTED_ORIGINS | (none) | comma separated, e.g. https://prep.example.org |
| DATABASE_URL | sqlite:///var/db.sqlite3 | e.g. postgres://user@127.0.0.1:5432/resnet |
| CELERY_BROKER_URL | filesystem:// (folders under var/broker) | e.g. redis://127.0.0.1:6379/0 |
| VAR_DIR | var/ beside manage.py | where the embedded database, broker and keys live |
| SANDBOX_BACKEND | auto | auto, docker, bwrap or none |
| SANDBOX_IMAGE | resnet-sandbox:<hash of the recipe> | the Docker image jobs run in |
| SANDBOX_GPUS | none | none, all, or device ids such as 0,1 |
| SANDBOX_POOL_SIZE | 1 | warm sandboxes (Docker or bubblewrap) kept per job shape and worker process (read by sandbox/) |
| SANDBOX_CGROUP_PARENT | (none) | bubblewrap: a cgroup v2 folder with memory and pids (read by sandbox/) |
| SANDBOX_WALL_S / SANDBOX_MEMORY_MB / SANDBOX_PIDS / SANDBOX_CPUS | 20 / 1024 / 64 / 1 | per-job limits |
| SANDBOX_OUTPUT_KB / SANDBOX_TMPFS_MB | 64 / 64 | per-stream output cap, writable tmpfs size |
| LAB_WALL_S / LAB_MEMORY_MB | 240 / 2048 | limits of one lab run in the sandbox |
| LAB_SETTINGS | (none) | JSON replacing some of the lab's default depths and budget, e.g. {"ns": [1], "steps": 40} |
| LAB_PROGRESS_EVERY_S | 2 | how often a running lab's partial curves are stored for the page |
| GRADING_GPU | 0 | 1 sends GPU exercises to the grade.gpu queue's workers |
| GRADING_MAX_ACTIVE | 3 | submissions one learner may have queued or running at once |
| RATE_MOCK_STARTS / RATE_TOKEN_CREATES / RATE_SIGNUPS | 10/hour / 10/hour / 5/hour | per learner (sign-ups: per address) |
| LOGIN_FAILURE_LIMIT / LOGIN_COOLOFF_MINUTES | 5 / 15 | wrong passwords for one name from one address, then locked out |
| API_TOKEN_DAYS | 90 | an API token stops working this many days after it is made; 0: never |
| CACHE_URL | (none: memory of each process) | e.g. redis://127.0.0.1:6379/1, so rate limits hold across processes |
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _local_secret_key() -> str:
    """A key made once per checkout, so sessions survive restarts without a shared default."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env_bool("DJANGO_DEBUG", True)
# Served over HTTPS (production): secure cookies, HSTS, redirect to https, and a secret
# key that must be given. `make run` serves plain HTTP on this machine with DEBUG off
# (DJANGO_HTTPS=0), so a mistyped URL shows our 404 page, not Django's URL list.
HTTPS = env_bool("DJANGO_HTTPS", not DEBUG)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or ("" if HTTPS else _local_secret_key())
if not SECRET_KEY:
    raise RuntimeError("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=0 (or DJANGO_HTTPS=1)")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # Serves the API docs page with the swagger files bundled in the package (no CDN).
    "ninja",
    # Counts failed log-ins and locks out after LOGIN_FAILURE_LIMIT of them.
    "axes",
    "quizbank",
    "accounts",
    "grading",
    "learning",
    "interviews",
    "lab",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as its docs ask: it turns a locked-out log-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Web and worker write to one file: wait for the lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First, so a locked-out name is refused before its password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True  # stored in UTC, shown in the learner's zone

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
# WhiteNoise scans it at start; an empty folder until collectstatic (production) fills it.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "config.storage.StaticStorage"
    },
}

if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Only our own files run or style a page: no inline script, handler or <style>, no CDN.
# KaTeX's fonts are files under static/; it sizes its output through the DOM's style
# objects, which a policy does not restrict. Scripts read data from json_script blocks.
# CodeMirror writes its theme into a <style> element: the exercise page hands it this
# response's nonce (a page that asks for none gets no nonce in its header).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    if not os.environ.get("CACHE_URL")
    else {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["CACHE_URL"],
    }
}

# --- Limits on what one person may do ----------------------------------------------
# A handful of runs in flight is enough to compare variants; more only fills the queue
# for everyone else (each may hold a worker for SANDBOX_WALL_S plus start-up).
GRADING_MAX_ACTIVE = int(os.environ.get("GRADING_MAX_ACTIVE", "3"))
# Rates as count/window (accounts.limits.rate_parse): a learner restarting a mock now
# and then, making a token per machine, a household signing up, all stay well inside.
RATE_LIMITS = {
    "mock_start": os.environ.get("RATE_MOCK_STARTS", "10/hour"),
    "token_create": os.environ.get("RATE_TOKEN_CREATES", "10/hour"),
    "signup": os.environ.get("RATE_SIGNUPS", "5/hour"),
    "scratch": os.environ.get("RATE_SCRATCH_RUNS", "60/hour"),
}
# A lost token stops working by itself; a learner makes a new one in a click.
API_TOKEN_DAYS = int(os.environ.get("API_TOKEN_DAYS", "90"))
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("LOGIN_COOLOFF_MINUTES", "15")))
# One name from one address: a stranger elsewhere cannot lock a learner out.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False

# --- Celery -------------------------------------------------------------------------
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport: one folder both ways, so any process on this host
    # that shares var/ is a producer and a consumer of the same queues.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        # Broadcast (control) messages; kombu's default is a folder in the working directory.
        "control_folder": str(BROKER_DIR / "control"),
    }
    # kombu lists these folders and fails when they are missing: a fresh var/ needs them.
    for _folder in ("queue", "processed", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # A task unacknowledged for this long is handed to another worker; it must exceed
    # the hard time limit, or a slow grading would run twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}

# --- Sandbox and grading ------------------------------------------------------------
SANDBOX_BACKEND = os.environ.get("SANDBOX_BACKEND", "auto")
SANDBOX_IMAGE = os.environ.get("SANDBOX_IMAGE", "")  # empty: the tag of sandbox/Dockerfile
SANDBOX_GPUS = os.environ.get("SANDBOX_GPUS", "none")
SANDBOX_WALL_S = float(os.environ.get("SANDBOX_WALL_S", "20"))
SANDBOX_MEMORY_MB = int(os.environ.get("SANDBOX_MEMORY_MB", "1024"))
SANDBOX_PIDS = int(os.environ.get("SANDBOX_PIDS", "64"))
SANDBOX_CPUS = float(os.environ.get("SANDBOX_CPUS", "1"))
SANDBOX_OUTPUT_KB = int(os.environ.get("SANDBOX_OUTPUT_KB", "64"))
SANDBOX_TMPFS_MB = int(os.environ.get("SANDBOX_TMPFS_MB", "64"))
GRADING_GPU = env_bool("GRADING_GPU", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# The lab (issue 13): a learner's block trained deep in the sandbox, with its own limits.
LAB_WALL_S = float(os.environ.get("LAB_WALL_S", "240"))
LAB_MEMORY_MB = int(os.environ.get("LAB_MEMORY_MB", "2048"))
LAB_SETTINGS = json.loads(os.environ.get("LAB_SETTINGS") or "{}")
LAB_PROGRESS_EVERY_S = float(os.environ.get("LAB_PROGRESS_EVERY_S", "2"))
