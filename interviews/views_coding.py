"""The implementation round's "Run sample tests" and "Submit" inside a mock attempt.

The code field is the step's answer: it is saved first (so the clock applies: after the
deadline the save is refused and nothing is graded), then graded through the same
pipeline as the exercise page. With htmx the answer is the verdict fragment, which polls
itself; without JavaScript the whole form is saved and the page shows the verdict.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from interviews import coding
from interviews import services as mock_services
from interviews.views import _attempt_or_404, _is_htmx, _refused, _save_posted, _text_field
from quizbank.models import MockStep


@login_required
@require_POST
def mock_run_code(request, attempt_id: int, step_id: int):
    attempt = _attempt_or_404(request, attempt_id)
    step = get_object_or_404(
        MockStep, pk=step_id, script_id=attempt.script_id, exercise__isnull=False
    )
    back = reverse("mock-attempt", args=[attempt.pk]) + f"#step-{step.pk}"
    code = request.POST.get(_text_field(step.pk), "")
    try:
        if _is_htmx(request):
            mock_services.mock_autosave(attempt=attempt, step=step, text=code)
        else:
            _save_posted(request, attempt)  # the whole form, as its Save button would
    except mock_services.MockClosed as error:
        return _refused(request, attempt, error)
    try:
        run = coding.coding_run(
            attempt=attempt, step=step, code=code, kind=request.POST.get("kind", "sample")
        )
    except coding.CodingRefused as exc:
        if _is_htmx(request):
            return render(request, "grading/_refused.html", {"reason": str(exc)})
        messages.error(request, f"Not graded: {exc}")
        return redirect(back)
    if _is_htmx(request):
        return render(request, "grading/_verdict.html", {"current": run.submission, "fresh": True})
    return redirect(back)
