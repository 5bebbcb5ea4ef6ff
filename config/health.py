"""/healthz: the state of the database, the broker and the sandbox backend.

The details (engine names, broker transport, sandbox image, error texts) are shown to
staff and to requests from this machine (a probe, an operator's curl); anyone else gets
only `{"ok": ...}` and the status code, which is all a load balancer needs.
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
    # The web side is usable when its database answers; a missing broker or sandbox
    # only stops grading, and the body says so.
    body["ok"] = database["ok"]
    return JsonResponse(body, status=200 if database["ok"] else 503)
