"""Mock-interview pages. Thin: every write goes through interviews.services, and every
attempt is looked up with the learner in the filter, so another learner's id is a 404.

Forms post normally and work without JavaScript; htmx only makes the autosave quiet."""

from __future__ import annotations

import math
import zoneinfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.limits import RateLimited, rate_hit
from accounts.params import small_ints
from interviews import coding
from interviews import selectors as mock_selectors
from interviews import services as mock_services
from interviews.models import MockAttempt
from lab.selectors import lab_latest_curves
from learning import selectors
from quizbank.models import MockScript, MockStep
from quizbank.shuffling import options_for

# The start form's choices: value -> (time factor, untimed).
TIME_OPTIONS = {
    "standard": (1.0, False),
    "x1.5": (1.5, False),
    "x2": (2.0, False),
    "untimed": (1.0, True),
}


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _attempt_or_404(request, attempt_id: int) -> MockAttempt:
    return get_object_or_404(
        MockAttempt.objects.select_related("script"), pk=attempt_id, user=request.user
    )


def _zone(request) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(selectors.time_zone_of(request.user))


def _duration_label(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def _time_options(script: MockScript) -> list[tuple[str, str]]:
    """(value, label) for the start form's radio buttons."""
    options = []
    for value, (factor, untimed) in TIME_OPTIONS.items():
        if untimed:
            label = "Untimed"
        else:
            length = _duration_label(round(script.duration_s * factor))
            label = (
                f"Standard ({length})" if factor == 1.0 else f"Extra time ×{factor:g} ({length})"
            )
        options.append((value, label))
    return options


def _mm_ss(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


def _text_field(step_id: int) -> str:
    return f"text-{step_id}"


@login_required
def mock_list(request):
    mock_services.mock_expire_due_for_user(user=request.user)
    scripts = list(MockScript.objects.filter(retired=False).order_by("chapter", "order"))
    attempts = (
        MockAttempt.objects.filter(user=request.user)
        .select_related("script")
        .order_by("-started_at")
    )
    by_script: dict[int, list[MockAttempt]] = {}
    for attempt in attempts:
        by_script.setdefault(attempt.script_id, []).append(attempt)
    rows = [
        {
            "script": script,
            "steps": script.steps.select_related("item__part", "exercise").order_by("order"),
            "duration": _duration_label(script.duration_s),
            "options": _time_options(script),
            "attempts": by_script.get(script.pk, []),
        }
        for script in scripts
    ]
    return render(
        request,
        "interviews/list.html",
        {"rows": rows, "time_zone": selectors.time_zone_of(request.user)},
    )


@login_required
@require_POST
def mock_start(request, slug: str):
    script = get_object_or_404(MockScript, slug=slug, retired=False)
    option = TIME_OPTIONS.get(request.POST.get("time", "standard"))
    if option is None:
        messages.error(request, "Choose standard time, extra time or untimed.")
        return redirect("mock-list")
    factor, untimed = option
    try:
        rate_hit(scope="mock_start", key=str(request.user.pk))
    except RateLimited as exc:
        messages.error(request, f"No new mock started. {exc}")
        response = redirect("mock-list")
        response["Retry-After"] = str(exc.retry_after_s)
        return response
    try:
        attempt = mock_services.mock_start(
            user=request.user, script=script, time_factor=factor, untimed=untimed
        )
    except mock_services.MockAlreadyRunning as running:
        messages.info(
            request,
            "This mock is already running, so here it is with its clock. "
            "Submit it to start a new one.",
        )
        attempt = running.attempt
    return redirect("mock-attempt", attempt_id=attempt.pk)


def _opening_figure(script: MockScript, steps: list[MockStep], *, curves_of=None) -> dict | None:
    """The figure a paper discussion opens with (the 20- versus 56-layer training curves),
    shown under its first question: the learner's own latest lab curves when `curves_of`
    has run the lab, otherwise a schematic that says it is one."""
    if script.kind != MockScript.Kind.PAPER_DISCUSSION or not steps:
        return None
    curves = lab_latest_curves(user=curves_of) if curves_of is not None else None
    return {"step": steps[0].pk, "curves": curves}


@login_required
def mock_attempt(request, attempt_id: int):
    attempt = mock_services.mock_expire_if_due(attempt=_attempt_or_404(request, attempt_id))
    if attempt.ended_at is not None:
        return redirect("mock-review", attempt_id=attempt.pk)
    answers = {answer.step_id: answer for answer in attempt.answers.all()}
    steps = list(attempt.script.steps.select_related("item", "exercise").order_by("order", "pk"))
    remaining = mock_selectors.mock_attempt_remaining(attempt=attempt)
    runs = coding.coding_runs(attempt=attempt)
    context = {
        "attempt": attempt,
        "script": attempt.script,
        "figure": _opening_figure(attempt.script, steps, curves_of=request.user),
        "steps": [
            {
                "step": step,
                "answer": answers.get(step.pk),
                "field": _text_field(step.pk),
                "options": options_for(item=step.item, user=request.user) if step.item else [],
                # The implementation round: the code (the answer, else the starter) and
                # the newest grading of it in this attempt.
                "code": _code_shown(attempt, step, answers.get(step.pk))
                if step.exercise_id
                else "",
                "run": runs[step.pk].latest if step.pk in runs else None,
            }
            for step in steps
        ],
        # milliseconds for the script, so that its zero falls on the deadline, not a
        # rounded second before it; whole seconds (rounded up) for people
        "remaining_ms": None if remaining is None else int(remaining * 1000),
        "remaining_label": "" if remaining is None else _mm_ss(math.ceil(remaining)),
        "time_zone": selectors.time_zone_of(request.user),
        "interviewer_url": request.build_absolute_uri(
            reverse("mock-interviewer", args=[attempt.interviewer_token])
        )
        if attempt.interviewer_token
        else "",
    }
    return render(request, "interviews/attempt.html", context)


def _code_shown(attempt: MockAttempt, step: MockStep, answer) -> str:
    """The implementation step's editor: the learner's saved code, else the starter
    (answers start empty when the attempt starts)."""
    if answer is not None and answer.saved_at > attempt.started_at:
        return answer.text
    return coding.coding_starter(step=step)


def _save_posted(request, attempt: MockAttempt) -> int:
    """Autosave every `text-<step id>` field of the form; returns how many were posted."""
    posted = 0
    for step in attempt.script.steps.all():
        name = _text_field(step.pk)
        if name in request.POST:
            mock_services.mock_autosave(attempt=attempt, step=step, text=request.POST[name])
            posted += 1
    return posted


def _refused(request, attempt: MockAttempt, error: mock_services.MockClosed) -> HttpResponse:
    messages.error(request, str(error))
    target = reverse("mock-review", args=[attempt.pk])
    if _is_htmx(request):
        response = HttpResponse(status=409)
        response["HX-Redirect"] = target
        return response
    return redirect(target)


@login_required
@require_POST
def mock_autosave_step(request, attempt_id: int, step_id: int):
    """htmx autosave of one answer; answers with the "saved at" indicator."""
    attempt = _attempt_or_404(request, attempt_id)
    step = get_object_or_404(MockStep, pk=step_id, script_id=attempt.script_id)
    try:
        answer = mock_services.mock_autosave(
            attempt=attempt, step=step, text=request.POST.get(_text_field(step.pk), "")
        )
    except mock_services.MockClosed as error:
        return _refused(request, attempt, error)
    if not _is_htmx(request):
        return redirect(reverse("mock-attempt", args=[attempt.pk]) + f"#step-{step.pk}")
    return render(
        request,
        "interviews/_saved.html",
        {"answer": answer, "time_zone": selectors.time_zone_of(request.user)},
    )


@login_required
@require_POST
def mock_save(request, attempt_id: int):
    """The whole form's Save button (for learners without JavaScript)."""
    attempt = _attempt_or_404(request, attempt_id)
    try:
        _save_posted(request, attempt)
    except mock_services.MockClosed as error:
        return _refused(request, attempt, error)
    at = timezone.localtime(timezone.now(), _zone(request))
    messages.success(request, f"Answers saved at {at:%H:%M:%S}.")
    return redirect("mock-attempt", attempt_id=attempt.pk)


@login_required
@require_POST
def mock_submit(request, attempt_id: int):
    """Saves what the form carries (if still in time), then ends the attempt."""
    attempt = _attempt_or_404(request, attempt_id)
    try:
        _save_posted(request, attempt)
    except mock_services.MockClosed as error:
        messages.error(request, str(error))
        refused = True
    else:
        refused = False
    attempt = mock_services.mock_submit(attempt=attempt)
    if attempt.end_reason == MockAttempt.EndReason.EXPIRED:
        if not refused:
            messages.info(request, "Time is up: the mock ended at the deadline with your answers.")
    else:
        messages.success(request, "Submitted. Compare your answers with the model answers.")
    return redirect("mock-review", attempt_id=attempt.pk)


@login_required
def mock_review(request, attempt_id: int):
    attempt = mock_services.mock_expire_if_due(attempt=_attempt_or_404(request, attempt_id))
    if attempt.ended_at is None:
        messages.info(request, "The review opens when the mock ends: submit it first.")
        return redirect("mock-attempt", attempt_id=attempt.pk)
    if request.method == "POST":
        ticks = {
            step.pk: small_ints(request.POST.getlist(f"tick-{step.pk}"))
            for step in attempt.script.steps.all()
        }
        mock_services.mock_review(attempt=attempt, ticks=ticks)
        messages.success(request, "Your rubric ticks are saved.")
        return redirect("mock-review", attempt_id=attempt.pk)
    summary = mock_selectors.mock_review_rows(attempt=attempt)
    runs = coding.coding_runs(attempt=attempt)
    return render(
        request,
        "interviews/review.html",
        {
            "attempt": attempt,
            "script": attempt.script,
            "summary": summary,
            # Each row with its step's graded submission in this attempt (exercise steps).
            "rows_runs": [
                (row, runs[row.step.pk].graded if row.step.pk in runs else None)
                for row in summary.rows
            ],
            "time_zone": selectors.time_zone_of(request.user),
        },
    )


# --- interviewer mode --------------------------------------------------------------------


@login_required
@require_POST
def mock_invite(request, attempt_id: int):
    """The candidate makes (or revokes) the link a peer opens to play the interviewer."""
    attempt = _attempt_or_404(request, attempt_id)
    if request.POST.get("action") == "revoke":
        mock_services.mock_interviewer_revoke(attempt=attempt)
        messages.success(request, "The interviewer link no longer works.")
    else:
        try:
            mock_services.mock_interviewer_invite(attempt=attempt)
        except mock_services.MockClosed as error:
            messages.error(request, str(error))
            return redirect("mock-review", attempt_id=attempt.pk)
        messages.success(request, "Send the link below to the peer who plays the interviewer.")
    return redirect("mock-attempt", attempt_id=attempt.pk)


def mock_interviewer(request, token: str):
    """The peer's page: the script with the interviewer's notes, model answers and rubric,
    and a 1-4 score with a comment per question. The secret in the URL is the only key; it
    opens this attempt's script and scores and nothing else of the candidate's."""
    attempt = mock_selectors.mock_interviewer_attempt(token=token)
    if attempt is None:
        raise Http404("This interviewer link has expired or was revoked.")
    steps = list(
        attempt.script.steps.select_related("item", "exercise")
        .prefetch_related("item__rubric")
        .order_by("order", "pk")
    )
    if request.method == "POST":
        scores, comments = {}, {}
        for step in steps:
            raw = request.POST.get(f"score-{step.pk}", "")
            scores[step.pk] = int(raw) if raw in {"1", "2", "3", "4"} else None
            comments[step.pk] = request.POST.get(f"comment-{step.pk}", "").strip()
        mock_services.mock_interviewer_score(attempt=attempt, scores=scores, comments=comments)
        messages.success(request, "Scores saved. The candidate sees them in their review.")
        response = redirect("mock-interviewer", token=token)
    else:
        answers = {a.step_id: a for a in attempt.answers.all()}
        response = render(
            request,
            "interviews/interviewer.html",
            {
                "attempt": attempt,
                "script": attempt.script,
                "rows": [(step, answers.get(step.pk)) for step in steps],
                # A schematic only: the link opens nothing else of the candidate's.
                "figure": _opening_figure(attempt.script, steps),
                "scores": mock_services.INTERVIEWER_SCORES,
            },
        )
    # The secret is in the URL: never send it to another site as a referrer (same-origin,
    # not no-referrer, which makes the browser post "Origin: null" and fail the CSRF
    # check), and never keep it in a cache.
    response["Referrer-Policy"] = "same-origin"
    response["Cache-Control"] = "no-store, private"
    return response
