"""/healthz: the state of the database, the broker and the sandbox backend.

The details (engine names, broker transport, sandbox image, error texts) are shown to
staff and to requests from this machine (a probe, an operator's curl); anyone else gets
only `{"ok": ...}` and the status code, which is all a load balancer needs.
For staff and for requests from this host (a monitoring agent), it also reports the
grading queues, so that alerts can be written on them: submissions queued and running,
the age of the oldest queued one, messages waiting per broker queue (Redis), and the
workers that answered with their pool sizes.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache


def _check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"ok": True, "engine": connection.vendor}
    except Exception as exc:  # any failure is a state to report, not a crash
        return {"ok": False, "engine": connection.vendor, "error": str(exc)[:300]}


def _check_broker() -> dict[str, Any]:
    from config.celery_app import app

    url = settings.CELERY_BROKER_URL
    transport = url.split("://", 1)[0]
    if transport == "filesystem":
        # Connecting to this transport checks nothing; the folders are what workers need.
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
        if not os.access(folder, os.W_OK):
            return {"ok": False, "transport": transport, "error": f"cannot write {folder}"}
    try:
        # The URL from settings, explicitly: Celery would otherwise prefer its own env lookup.
        with app.connection_for_write(url) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True, "transport": transport}
    except Exception as exc:
        return {"ok": False, "transport": transport, "error": str(exc)[:300]}


def _check_sandbox() -> dict[str, Any]:
    from sandbox import backend_status

    return backend_status(preference=settings.SANDBOX_BACKEND, image=settings.SANDBOX_IMAGE or None)


def _may_see_details(request) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff:
        return True
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


LOCAL_ADDRESSES = {"127.0.0.1", "::1"}
# How long /healthz waits for workers to answer; a worker busy grading still answers
# (its main process does), one that does not within this is reported missing.
WORKER_REPLY_TIMEOUT_S = 1.0


def _may_see_queues(request) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    return request.META.get("REMOTE_ADDR") in LOCAL_ADDRESSES


def _broker_depths() -> dict[str, int] | None:
    """Messages waiting per grading queue, where the broker can be read (Redis)."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    depths = {}
    for queue in ("grade.cpu", "grade.gpu", "grade.sweep"):
        # kombu keeps one list per priority step: the queue's name, then name+suffix.
        depths[queue] = sum(client.llen(key) for key in client.scan_iter(match=f"{queue}*"))
    return depths


def _workers() -> dict[str, Any]:
    from config.celery_app import app

    stats = app.control.inspect(timeout=WORKER_REPLY_TIMEOUT_S).stats() or {}
    return {
        name: {"pool": (info.get("pool") or {}).get("max-concurrency")}
        for name, info in sorted(stats.items())
    }


def _check_queues() -> dict[str, Any]:
    from django.db.models import Count, Min
    from django.utils import timezone

    from grading.models import Submission

    body: dict[str, Any] = {}
    try:
        counts = dict(
            Submission.objects.filter(
                status__in=[Submission.Status.QUEUED, Submission.Status.RUNNING]
            )
            .values_list("status")
            .annotate(n=Count("pk"))
        )
        oldest = Submission.objects.filter(status=Submission.Status.QUEUED).aggregate(
            oldest=Min("queued_at")
        )["oldest"]
        body["submissions"] = {
            "queued": counts.get(Submission.Status.QUEUED, 0),
            "running": counts.get(Submission.Status.RUNNING, 0),
            "oldest_queued_age_s": None
            if oldest is None
            else round((timezone.now() - oldest).total_seconds(), 1),
        }
    except Exception as exc:
        body["submissions"] = {"error": str(exc)[:300]}
    try:
        body["broker_depth"] = _broker_depths()
    except Exception as exc:
        body["broker_depth"] = {"error": str(exc)[:300]}
    try:
        workers = _workers()
        body["workers"] = {
            "seen": len(workers),
            "pool_size": sum(w["pool"] or 0 for w in workers.values()),
            "each": workers,
        }
    except Exception as exc:
        body["workers"] = {"error": str(exc)[:300]}
    return body


@never_cache
def healthz(request):
    database = _check_database()
    if not _may_see_details(request):
        ok = database["ok"]
        return JsonResponse({"ok": ok}, status=200 if ok else 503)
    body = {
        "database": database,
        "broker": _check_broker(),
        "sandbox": _check_sandbox(),
    }
    if database["ok"] and _may_see_queues(request):
        body["queues"] = _check_queues()
    # The web side is usable when its database answers; a missing broker or sandbox
    # only stops grading, and the body says so.
    body["ok"] = database["ok"]
    return JsonResponse(body, status=200 if database["ok"] else 503)
