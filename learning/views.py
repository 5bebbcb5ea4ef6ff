"""Learner pages. Thin: they read through selectors, write through services, and look up
every learner-owned row with the learner in the filter (another learner's id is a 404).

Forms post normally; with htmx the answer card swaps in place (the same partial)."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from fsrs import Rating

from accounts.params import MAX_DIGITS, int_param, small_int, small_ints
from learning import exports, forecast, selectors, services
from learning.answers import (
    CERTAINTY_LABELS,
    Certainty,
    Checked,
    check_free_text,
    check_multiple_choice,
    check_numeric,
    check_ordering,
    expected_text,
    free_text_hints,
    ordering_shuffled,
)
from learning.models import LearnerCard, LearnerPlan, ReviewLogEntry, SkillRatingSnapshot
from quizbank.models import Item, Part, Problem, ReviewTask, Skill
from quizbank.shuffling import options_for

# A card left open over lunch is not a 2-hour review: durations above this are clipped so
# that they do not distort the log FSRS will be optimised from.
MAX_DURATION_MS = 10 * 60 * 1000


def _chapter_or_404():
    chapter = selectors.chapter_current()
    if chapter is None:
        raise Http404("No content is loaded yet (run manage.py load_quizbank).")
    return chapter


SITTING_KEY = "review_sitting"
SITTING_MAX = 30


def _sitting_answered(request) -> list[Item]:
    """Cards whose answer the learner saw today in this browser session (the sitting)."""
    sitting = request.session.get(SITTING_KEY) or {}
    today = selectors.learner_today(user=request.user, now=timezone.now()).isoformat()
    if sitting.get("day") != today:
        return []
    ids = sitting.get("items", [])
    return list(Item.objects.filter(pk__in=ids).prefetch_related("choices", "rubric"))


def _sitting_add(request, item: Item) -> None:
    today = selectors.learner_today(user=request.user, now=timezone.now()).isoformat()
    sitting = request.session.get(SITTING_KEY) or {}
    ids = sitting.get("items", []) if sitting.get("day") == today else []
    if item.pk not in ids:
        ids = (ids + [item.pk])[-SITTING_MAX:]
    request.session[SITTING_KEY] = {"day": today, "items": ids}


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


# --- dashboard ---------------------------------------------------------------------------


def home(request):
    """The dashboard; a logged-out visitor gets a page saying what the product is, rather
    than only a log-in form."""
    if not request.user.is_authenticated:
        return render(request, "learning/landing.html")
    chapter = selectors.chapter_current()
    if chapter is None:
        return render(request, "learning/home.html")
    user = request.user
    now = timezone.now()
    plan = selectors.plan_active(user=user, chapter=chapter)
    queue = selectors.due_queue(user=user, chapter=chapter, now=now)
    open_tasks = selectors.due_open_tasks(user=user, chapter=chapter, now=now)
    context = {
        "chapter": chapter,
        "plan": plan,
        "due_cards": len(queue),
        "due_tasks": len(open_tasks),
        "due_total": len(queue) + len(open_tasks),
        "streak": selectors.streak(user=user, now=now),
        "readiness": selectors.skills_readiness(user=user, chapter=chapter),
        "weakest": selectors.skills_weakest(user=user, chapter=chapter),
        "mastery": selectors.mastery_by_part(user=user, chapter=chapter),
        "calendar": selectors.plan_calendar(plan=plan, now=now) if plan else [],
        "series": selectors.review_series(user=user, now=now),
        "forecast": forecast.due_per_day(user=user, chapter=chapter, now=now),
    }
    return render(request, "learning/dashboard.html", context)


# --- self-assessment ---------------------------------------------------------------------


@login_required
def skills_rate(request):
    chapter = _chapter_or_404()
    skills = selectors.skills_of(chapter)
    latest = selectors.skills_latest_scores(user=request.user, chapter=chapter)
    errors = []
    if request.method == "POST":
        scores = {}
        for skill in skills:
            raw = request.POST.get(f"skill-{skill.pk}", "")
            score = small_int(raw)
            if score is not None and 1 <= score <= 5:
                scores[skill.pk] = score
        missing = [s.title for s in skills if s.pk not in scores]
        if missing:
            errors = missing
            latest.update(scores)
        else:
            services.skills_rate(user=request.user, chapter=chapter, scores=scores)
            messages.success(request, "Saved. Your earlier ratings are kept in the history.")
            return redirect("skills-history")
    rows = [(skill, latest.get(skill.pk)) for skill in skills]
    return render(
        request,
        "learning/skills_rate.html",
        {"rows": rows, "scale": Skill.SCALE, "errors": errors, "target": Skill.TARGET},
        status=400 if errors else 200,
    )


@login_required
def skills_history(request):
    chapter = _chapter_or_404()
    snapshots = SkillRatingSnapshot.objects.filter(user=request.user, chapter=chapter).order_by(
        "-taken_at"
    )
    return render(
        request,
        "learning/skills_history.html",
        {
            "history": selectors.skills_history(user=request.user, chapter=chapter),
            "snapshots": snapshots,
            "readiness": selectors.skills_readiness(user=request.user, chapter=chapter),
            "weakest": selectors.skills_weakest(user=request.user, chapter=chapter),
            "time_zone": selectors.time_zone_of(request.user),
        },
    )


@login_required
def skills_snapshot(request, snapshot_id: int):
    snapshot = get_object_or_404(SkillRatingSnapshot, pk=snapshot_id, user=request.user)
    return render(
        request,
        "learning/skills_snapshot.html",
        {
            "snapshot": snapshot,
            "ratings": snapshot.ratings.select_related("skill"),
            "time_zone": selectors.time_zone_of(request.user),
        },
    )


# --- plan --------------------------------------------------------------------------------


@login_required
def plan(request):
    chapter = _chapter_or_404()
    now = timezone.now()
    active = selectors.plan_active(user=request.user, chapter=chapter)
    checkpoints = selectors.plan_checkpoints(plan=active, now=now) if active else []
    past = LearnerPlan.objects.filter(user=request.user, chapter=chapter, active=False)
    return render(
        request,
        "learning/plan.html",
        {
            "plan": active,
            "checkpoints": checkpoints,
            "today": [c for c in checkpoints if c.status == "today"],
            "overdue": [c for c in checkpoints if c.status == "overdue"],
            "upcoming": [c for c in checkpoints if c.status == "upcoming"],
            "done": [c for c in checkpoints if c.status == "done"],
            "past_plans": past,
            "local_today": selectors.learner_today(user=request.user, now=now),
            "time_zone": selectors.time_zone_of(request.user),
        },
    )


@login_required
@require_POST
def plan_start(request):
    chapter = _chapter_or_404()
    restarting = selectors.plan_active(user=request.user, chapter=chapter) is not None
    if restarting and request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the box to confirm the restart.")
        return redirect("plan")
    services.plan_start(user=request.user, chapter=chapter)
    messages.success(
        request,
        "Plan restarted: today is Day 0 again; your history is kept."
        if restarting
        else "Plan started: today is Day 0.",
    )
    return redirect("plan")


MAX_LIST_INDEX = 10_000  # far more cards in a part or hints in a problem than the bank has


def _posted_next(request, *, fallback: str) -> str:
    """The posted `next` when it points into this site, else `fallback` (a URL name).

    Anything else (https://elsewhere, //elsewhere, javascript:) would make our form an
    open redirect, a trusted link that lands on another site.
    """
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse(fallback)


@login_required
@require_POST
def plan_task_confirm(request, plan_id: int, task_id: int):
    plan_row = get_object_or_404(LearnerPlan, pk=plan_id, user=request.user)
    task = get_object_or_404(ReviewTask, pk=task_id, review_day__chapter=plan_row.chapter)
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the box to confirm you did it.")
        return redirect("plan")
    try:
        services.plan_task_confirm(plan=plan_row, task=task)
    except services.PlanError as exc:
        messages.error(request, str(exc))
        return redirect("plan")
    messages.success(request, f"Done: {task.title}")
    return redirect(_posted_next(request, fallback="plan"))


# --- answering ---------------------------------------------------------------------------


def _card_version(request, item: Item) -> int:
    """The version the page answers: the one posted with the answer (so a reveal step
    keeps the version of the page first shown), else the card's current one."""
    posted = request.POST.get("version", "") if request.method == "POST" else ""
    if posted.isdigit():
        return int(posted)
    return services.card_version(LearnerCard.objects.filter(user=request.user, item=item).first())


def _shown_at(request) -> int:
    """When the card was first shown (ms): a reveal step keeps the posted time, so the
    duration logged covers the whole card, not only the rating step."""
    posted = request.POST.get("shown_at", "") if request.method == "POST" else ""
    if posted.isascii() and posted.isdigit() and len(posted) <= 15:
        return int(posted)
    return int(timezone.now().timestamp() * 1000)


def _skip_url(part, index) -> str | None:
    """Practice cards can be skipped: the next card of the part, nothing logged."""
    if not part or index is None or not str(index).isdigit():
        return None
    return reverse("practice-part", args=[part]) + f"?n={int(index) + 1}"


def _card_context(request, item: Item, *, source: str, task=None, part=None, index=None):
    return {
        "version": _card_version(request, item),
        "item": item,
        "source": source,
        "task": task,
        # The practice page's own `part` is the Part; the card only carries its slug (a
        # string under the same name made the heading read "Gradient-Flow", str.title()).
        "part_slug": part,
        "index": index,
        "shown_at": _shown_at(request),
        "skip_url": _skip_url(part, index),
        "certainties": CERTAINTY_LABELS,
        "choices": options_for(item=item, user=request.user),
        "multi": item.kind == Item.Kind.MULTIPLE_CHOICE
        and sum(1 for c in item.choices.all() if c.correct) > 1,
        "steps": ordering_shuffled(item=item, seed=str(request.user.pk))
        if item.kind == Item.Kind.ORDERING
        else [],
    }


def _answer_text(item: Item) -> str:
    """The right answer in one line, for a card revealed without typing (free text shows
    its model answer instead)."""
    if item.kind == Item.Kind.MULTIPLE_CHOICE:
        return "; ".join(c.text for c in item.choices.all() if c.correct)
    if item.kind == Item.Kind.NUMERIC:
        return expected_text(item)
    if item.kind == Item.Kind.ORDERING:
        return " → ".join(step.text for step in item.choices.all())
    return ""


def _shown_context(request, item: Item) -> dict:
    return {
        "shown": True,
        "answer_text": _answer_text(item),
        "ratings": [(r.value, r.name) for r in Rating],
        "count_on": request.POST.get("count") == "on",
    }


def _certainty(request) -> Certainty:
    try:
        return Certainty(request.POST.get("certainty", Certainty.UNSURE))
    except ValueError:
        return Certainty.UNSURE


def _ints(values) -> list[int]:
    return small_ints(values)


def _render_card(request, context, status=200):
    if _is_htmx(request):
        # htmx swaps only 2xx answers by default; the partial carries the error message.
        return render(request, "learning/_card.html", context)
    return render(request, "learning/card_page.html", context, status=status)


def _already_answered(request, next_url: str) -> HttpResponse:
    """A stale answer (Back then Forward, a second tab) is refused: nothing is logged, the
    card keeps its schedule, and the page moves on to the next card with a notice."""
    messages.info(request, "Already answered: that card was answered before. Here is the next one.")
    if _is_htmx(request):
        response = HttpResponse(status=200)
        response["HX-Redirect"] = next_url
        return response
    return redirect(next_url)


def _next_url(source: str, item: Item, request) -> str:
    if source == ReviewLogEntry.Source.PRACTICE:
        part_slug = request.POST.get("part") or item.part.slug
        index = small_int(request.POST.get("index", "0"))
        nxt = index + 1 if index is not None else 0
        return reverse("practice-part", args=[part_slug]) + f"?n={nxt}"
    return reverse("due")


@login_required
@require_POST
def item_answer(request, item_id: int):
    """Check an answer, log it (moving the FSRS card unless it is uncounted practice) and
    show the feedback. Free text goes through a reveal step first."""
    item = get_object_or_404(Item, pk=item_id, retired=False)
    source = request.POST.get("source", ReviewLogEntry.Source.DUE)
    if source not in ReviewLogEntry.Source.values:
        source = ReviewLogEntry.Source.DUE
    certainty = _certainty(request)
    base = _card_context(
        request, item, source=source, part=request.POST.get("part"), index=request.POST.get("index")
    )
    mode = request.POST.get("mode", "")
    typed = request.POST.get("answer", "").strip()
    if mode == "show" and not (item.kind == Item.Kind.FREE_TEXT and typed):
        # Answer in your head (Anki's "Show answer"): a free text with something typed
        # still goes through the graded reveal below.
        _sitting_add(request, item)
        return _render_card(request, base | _shown_context(request, item))
    if mode == "self":
        raw = request.POST.get("self_rating", "")
        if raw not in {"1", "2", "3", "4"}:
            return _render_card(
                request,
                base | _shown_context(request, item) | {"error": "Rate it from 1 to 4."},
                status=400,
            )
        rating = Rating(int(raw))
        checked = Checked(
            correct=None,
            rating=rating,
            feedback=f"Answered in your head; you rated it {rating.name}.",
            answer={"in_head": True},
        )
    elif item.kind == Item.Kind.MULTIPLE_CHOICE:
        chosen = _ints(request.POST.getlist("choice"))
        if not chosen:
            return _render_card(request, base | {"error": "Choose an answer."}, status=400)
        checked = check_multiple_choice(item=item, chosen_ids=chosen, certainty=certainty)
    elif item.kind == Item.Kind.NUMERIC:
        text = request.POST.get("number", "").strip()
        if not text:
            return _render_card(request, base | {"error": "Type a number."}, status=400)
        checked = check_numeric(item=item, text=text, certainty=certainty)
    elif item.kind == Item.Kind.ORDERING:
        positions = {}
        for step in item.choices.all():
            position = small_int(request.POST.get(f"pos-{step.pk}", ""))
            if position is not None:
                positions[step.pk] = position
        if len(positions) != item.choices.count():
            return _render_card(
                request, base | {"error": "Give every step a position."}, status=400
            )
        checked = check_ordering(item=item, positions=positions, certainty=certainty)
    else:
        text = request.POST.get("answer", "")
        if request.POST.get("step") != "rate":
            if not text.strip():
                return _render_card(
                    request, base | {"error": "Write your answer first."}, status=400
                )
            hints, traps = free_text_hints(item=item, answer=text)
            return _render_card(
                request, base | {"reveal": True, "answer": text, "hints": hints, "traps": traps}
            )
        checked = check_free_text(
            item=item,
            answer=text,
            ticked_point_ids=_ints(request.POST.getlist("point")),
            traps_made=_ints(request.POST.getlist("trap")),
            certainty=certainty,
        )
    if checked.reenter:
        return _render_card(request, base | {"error": checked.feedback}, status=400)
    duration = None
    shown_at = int_param(request.POST, "shown_at", default=-1, maximum=10**MAX_DIGITS - 1)
    if shown_at >= 0:
        duration = int(timezone.now().timestamp() * 1000) - shown_at
        duration = min(max(duration, 0), MAX_DURATION_MS)
    posted_version = request.POST.get("version", "")
    try:
        entry = services.review_record(
            user=request.user,
            item=item,
            checked=checked,
            source=source,
            count_toward_schedule=request.POST.get("count") == "on",
            duration_ms=duration,
            expected_version=int(posted_version) if posted_version.isdigit() else None,
        )
    except (services.StaleAnswer, IntegrityError):
        return _already_answered(request, _next_url(source, item, request))
    _sitting_add(request, item)
    card = LearnerCard.objects.filter(user=request.user, item=item).first()
    context = base | {
        "entry": entry,
        "checked": checked,
        "card": card,
        "next_url": _next_url(source, item, request),
        "ratings": [(r.value, r.name) for r in Rating],
        "time_zone": selectors.time_zone_of(request.user),
        "htmx": _is_htmx(request),
        "remaining": len(selectors.due_queue(user=request.user, chapter=item.chapter))
        if source != ReviewLogEntry.Source.PRACTICE
        else None,
    }
    return _render_card(request, context)


@login_required
@require_POST
def review_rerate(request, entry_id: int):
    entry = get_object_or_404(ReviewLogEntry, pk=entry_id, user=request.user)
    raw = request.POST.get("rating", "")
    if raw not in {"1", "2", "3", "4"}:
        return HttpResponse("rating must be 1 to 4", status=400)
    try:
        services.review_rerate(entry=entry, rating=Rating(int(raw)))
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Rating changed to {Rating(int(raw)).name}.")
    return redirect(_posted_next(request, fallback="due"))


@login_required
def due(request):
    chapter = _chapter_or_404()
    now = timezone.now()
    queue = selectors.queue_without_giveaways(
        queue=selectors.due_queue(user=request.user, chapter=chapter, now=now),
        answered=_sitting_answered(request),
    )
    open_tasks = selectors.due_open_tasks(user=request.user, chapter=chapter, now=now)
    context = {
        "queue_size": len(queue),
        "open_tasks": open_tasks,
        "plan": selectors.plan_active(user=request.user, chapter=chapter),
    }
    if queue:
        entry = queue[0]
        context |= _card_context(request, entry.item, source=entry.source, task=entry.task)
    return render(request, "learning/due.html", context)


@login_required
def card_detail(request, card_id: int):
    card = get_object_or_404(
        LearnerCard.objects.select_related("item"), pk=card_id, user=request.user
    )
    logs = ReviewLogEntry.objects.filter(user=request.user, item=card.item).order_by("-reviewed_at")
    return render(
        request,
        "learning/card_detail.html",
        {"card": card, "logs": logs[:50], "time_zone": selectors.time_zone_of(request.user)},
    )


# --- practice ----------------------------------------------------------------------------


@login_required
def practice_index(request):
    chapter = _chapter_or_404()
    return render(
        request,
        "learning/practice_index.html",
        {"mastery": selectors.mastery_by_part(user=request.user, chapter=chapter)},
    )


@login_required
def practice_part(request, part_slug: str):
    chapter = _chapter_or_404()
    part = get_object_or_404(Part, chapter=chapter, slug=part_slug, retired=False)
    items = selectors.practice_items(part=part)
    problems = part.problems.filter(retired=False)
    # A stale link past the end shows the end; only what is not a number is refused.
    index = int_param(request.GET, "n", default=0, maximum=MAX_LIST_INDEX)
    context = {"part": part, "items": items, "problems": problems, "count": len(items)}
    if items and index < len(items):
        context |= _card_context(
            request,
            items[index],
            source=ReviewLogEntry.Source.PRACTICE,
            part=part.slug,
            index=index,
        )
        context["position"] = index + 1
    else:
        context["finished"] = bool(items)
    return render(request, "learning/practice_part.html", context)


@login_required
def problem_detail(request, problem_slug: str):
    chapter = _chapter_or_404()
    problem = get_object_or_404(Problem, chapter=chapter, slug=problem_slug, retired=False)
    hints = list(problem.hints.all())
    shown = min(int_param(request.GET, "hints", default=0, maximum=MAX_LIST_INDEX), len(hints))
    return render(
        request,
        "learning/problem.html",
        {
            "problem": problem,
            "hints": hints[:shown],
            "shown": shown,
            "more_hints": shown < len(hints),
            "solution": request.GET.get("solution") == "1",
        },
    )


@login_required
@require_POST
def problem_solved(request, problem_slug: str):
    chapter = _chapter_or_404()
    problem = get_object_or_404(Problem, chapter=chapter, slug=problem_slug, retired=False)
    hints_seen = min(
        int_param(request.POST, "hints", default=0, maximum=MAX_LIST_INDEX), problem.hints.count()
    )
    services.problem_mark_solved(
        user=request.user,
        problem=problem,
        hints_seen=hints_seen,
        saw_solution=request.POST.get("solution") == "1",
    )
    messages.success(request, f"Marked solved: {problem.title}")
    return redirect("plan")


# --- exports -----------------------------------------------------------------------------


@login_required
def plan_ics(request):
    chapter = _chapter_or_404()
    plan_row = selectors.plan_active(user=request.user, chapter=chapter)
    if plan_row is None:
        raise Http404("Start the plan first.")
    body = exports.plan_to_ics(plan=plan_row, base_url=request.build_absolute_uri("/"))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="resnet-plan.ics"'
    return response


@login_required
def deck_apkg(request):
    chapter = _chapter_or_404()
    data = exports.deck_to_apkg(chapter=chapter, user=request.user)
    response = HttpResponse(data, content_type="application/octet-stream")
    stamp = dt.date.today().isoformat()
    response["Content-Disposition"] = f'attachment; filename="resnet-cards-{stamp}.apkg"'
    return response
