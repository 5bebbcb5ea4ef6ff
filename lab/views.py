"""The lab panel of an exercise page: eligibility, start, progress, and the curves."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_POST

from lab import services
from lab.models import LabRun


def _context(request: HttpRequest, slug: str, refused: str = "") -> dict:
    if slug not in services.BLOCKS:
        raise Http404("The lab runs for the residual block exercises only.")
    run = LabRun.objects.filter(user=request.user, exercise=slug).first()
    passed = services.lab_passing_code(user=request.user, exercise=slug) is not None
    defaults = services.lab_defaults()
    progress = run.progress if run and run.is_active and run.progress else None
    return {
        "slug": slug,
        "run": run,
        "passed": passed,
        "refused": refused,
        "layers": [6 * n + 2 for n in defaults["ns"]],
        "defaults": defaults,
        "on_gpu": settings.GRADING_GPU,
        "findings": services.findings(run.result) if run and run.result else None,
        "chart_data": run.result if run and run.result else progress,
        "progress": progress,
        "poll_s": _poll_s(run) if run and run.is_active else None,
    }


def _poll_s(run: LabRun) -> int:
    """Seconds before the page asks again: every second at first, backing off to five
    as the run gets older (the worker stores progress every two seconds)."""
    age = (timezone.now() - (run.started_at or run.created_at)).total_seconds()
    return int(min(5, 1 + age // 20))


@login_required
def lab_panel(request: HttpRequest, slug: str) -> HttpResponse:
    return render(request, "lab/_panel.html", _context(request, slug))


@login_required
@require_POST
def lab_start_view(request: HttpRequest, slug: str) -> HttpResponse:
    refused = ""
    try:
        services.lab_start(user=request.user, exercise=slug)
    except services.LabRefused as exc:
        refused = str(exc)
    return render(request, "lab/_panel.html", _context(request, slug, refused))


@login_required
@require_POST
def lab_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = LabRun.objects.filter(pk=pk, user=request.user).first()
    if run is None:
        raise Http404("No such lab run.")
    services.lab_cancel(user=request.user, run_id=pk)
    return render(request, "lab/_panel.html", _context(request, run.exercise))
