"""Exercise pages and the API-token page. Thin: reads via selectors, writes via services.

The submit form is a plain POST that works without JavaScript; with htmx the same
endpoint answers the verdict fragment, which polls itself every second until final.
"""

from __future__ import annotations

import urllib.parse

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts import selectors as account_selectors
from accounts.params import int_param
from grading import dispatch, scratch, selectors, services
from grading.models import Submission
from quizbank.rendering import markdown_to_html

# The one sanitised renderer of every Markdown field (quizbank.rendering).
render_markdown = markdown_to_html


# --- exercise pages --------------------------------------------------------------------


def _spec_or_404(slug: str):
    from grading import catalog

    try:
        return catalog.exercise_get(slug)
    except KeyError:
        raise Http404("No such exercise.") from None


def _form_code(request: HttpRequest) -> str | bytes:
    """The posted code as sent: bytes when the form body can be read strictly.

    Django decodes form fields leniently (bad bytes become U+FFFD); the raw bytes let the
    service refuse a non-UTF-8 source with a clear message instead of grading mojibake.
    """
    if request.content_type == "application/x-www-form-urlencoded":
        pairs = urllib.parse.parse_qsl(
            request.body.decode("latin-1"), keep_blank_values=True, encoding="latin-1"
        )
        for key, value in pairs:
            if key == "code":
                return value.encode("latin-1")
        return ""
    return request.POST.get("code", "")


def _detail_context(request: HttpRequest, slug: str, *, code: str | None = None) -> dict:
    spec = _spec_or_404(slug)
    statement = selectors.exercise_statement_get(slug=slug)
    # The quiz bank's text is the edited one; the exercise's own is the fallback.
    statement_text = statement.statement if statement is not None else spec.statement
    attempts = list(selectors.submission_list_for(user=request.user, exercise=slug))
    current = None
    wanted = int_param(request.GET, "submission", default=0, maximum=2**63 - 1)
    if wanted:
        current = selectors.submission_get_for(user=request.user, submission_id=wanted)
        if current.exercise != slug:
            raise Http404("No such submission for this exercise.")
    elif attempts:
        current = selectors.submission_get_for(user=request.user, submission_id=attempts[0].pk)
    if code is None:
        code = selectors.submission_last_code(user=request.user, exercise=slug)
    console = scratch.scratch_page(
        user=request.user,
        exercise=slug,
        wanted=int_param(request.GET, "scratch", default=0, maximum=2**63 - 1),
    )
    if console is None:
        raise Http404("No such scratch run for this exercise.")
    return {
        **console,
        "spec": spec,
        "title": statement.title if statement is not None else spec.title,
        "statement_html": render_markdown(statement_text) if statement_text else "",
        "hints": [render_markdown(h) for h in spec.hints],
        "code": code if code is not None else spec.starter_code,
        "starter_code": spec.starter_code,
        "attempts": attempts,
        "current": current,
        # Submit and Run are disabled while this run is graded (editor.js keeps it so).
        "pending": current is not None and not current.is_final,
        "max_kib": services.MAX_SOURCE_BYTES // 1024,
        "gpu_offered": dispatch.gpu_tests_offered(spec=spec),
        "time_zone": account_selectors.learner_time_zone(user=request.user),
    }


@login_required
@require_GET
def exercise_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.exercise_list_for(user=request.user)
    return render(request, "grading/exercise_list.html", {"rows": rows})


@login_required
@require_GET
def exercise_detail(request: HttpRequest, slug: str) -> HttpResponse:
    return render(request, "grading/exercise_detail.html", _detail_context(request, slug))


@login_required
@require_POST
def exercise_submit(request: HttpRequest, slug: str) -> HttpResponse:
    _spec_or_404(slug)
    kind = request.POST.get("kind", Submission.Kind.SUBMIT)
    code = _form_code(request)
    is_htmx = request.headers.get("HX-Request") == "true"
    try:
        submission = services.submission_create(
            user=request.user, exercise=slug, code=code, kind=kind,
            on_gpu=request.POST.get("on_gpu") == "1",
        )  # fmt: skip
    except services.SubmissionRefused as exc:
        throttled = isinstance(exc, services.SubmissionThrottled)
        if is_htmx:
            response = render(request, "grading/_refused.html", {"reason": str(exc)})
            if throttled:
                response["Retry-After"] = str(exc.retry_after_s)
            return response
        shown = code.decode("utf-8", "replace") if isinstance(code, bytes) else code
        context = _detail_context(request, slug, code=shown)
        context["refused"] = str(exc)
        response = render(
            request, "grading/exercise_detail.html", context, status=429 if throttled else 422
        )
        if throttled:
            response["Retry-After"] = str(exc.retry_after_s)
        return response
    if is_htmx:
        return render(request, "grading/_verdict.html", {"current": submission, "fresh": True})
    url = reverse("exercise-detail", args=[slug])
    return redirect(f"{url}?submission={submission.pk}#verdict")


@login_required
@require_GET
def submission_status(request: HttpRequest, pk: int) -> HttpResponse:
    submission = selectors.submission_get_for(user=request.user, submission_id=pk)
    context = {"current": submission}
    if submission.is_final:
        context["attempts"] = selectors.submission_list_for(
            user=request.user, exercise=submission.exercise
        )
        context["oob_attempts"] = True
        context["time_zone"] = account_selectors.learner_time_zone(user=request.user)
    return render(request, "grading/_verdict.html", context)
