"""The scratch console on the exercise page: run a few lines against your own code.

A plain POST works without JavaScript (the page comes back with the run below the
editor); with htmx the same endpoint answers the output fragment, which polls itself
until the run ends.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.limits import RateLimited
from grading import scratch
from grading.models import ScratchRun
from grading.views import _detail_context, _form_code, _spec_or_404


def _fragment(request: HttpRequest, run: ScratchRun, **extra) -> HttpResponse:
    context = {"run": run, "lost": scratch.scratch_is_lost(run), **extra}
    return render(request, "grading/_scratch_output.html", context)


@login_required
@require_POST
def scratch_submit(request: HttpRequest, slug: str) -> HttpResponse:
    _spec_or_404(slug)
    is_htmx = request.headers.get("HX-Request") == "true"
    script = request.POST.get("script", "")
    try:
        run = scratch.scratch_create(
            user=request.user, exercise=slug, code=_form_code(request), script=script
        )
    except (scratch.ScratchRefused, RateLimited) as exc:
        status = 429 if isinstance(exc, RateLimited) else 422
        if is_htmx:
            # htmx swaps only 2xx answers by default: the refusal is shown with 200.
            response = render(request, "grading/_scratch_output.html", {"refused": str(exc)})
        else:
            code = request.POST.get("code", "")
            context = _detail_context(request, slug, code=code)
            context.update(scratch_script=script, scratch_refused=str(exc))
            response = render(request, "grading/exercise_detail.html", context, status=status)
        if isinstance(exc, RateLimited):
            response["Retry-After"] = str(exc.retry_after_s)
        return response
    if is_htmx:
        return _fragment(request, run)
    url = reverse("exercise-detail", args=[slug])
    return redirect(f"{url}?scratch={run.pk}#scratch")


@login_required
@require_GET
def scratch_status(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(ScratchRun, pk=pk, user=request.user)
    return _fragment(request, run)
