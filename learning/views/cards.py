"""Answering cards: the due queue, the answer (checked, logged, the card moved), the
re-rating of the last answer, and a card's history.

Forms post normally; with htmx the answer card swaps in place (the same partial)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.db.models import prefetch_related_objects
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from fsrs import Rating

from accounts.params import MAX_DIGITS, int_param, small_int, small_ints
from learning import selectors, services
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
from learning.models import LearnerCard, ReviewLogEntry
from learning.views.common import (
    chapter_or_404,
    is_htmx,
    posted_next,
    sitting_add,
    sitting_answered,
)
from quizbank.models import Item
from quizbank.shuffling import options_for

# A card left open over lunch is not a 2-hour review: durations above this are clipped so
# that they do not distort the log FSRS will be optimised from.
MAX_DURATION_MS = 10 * 60 * 1000


# A card row not read yet (the page knows only the item); None is "no card yet".
_UNREAD = object()


def _card_version(request, item: Item, card=_UNREAD) -> int:
    """The version the page answers: the one posted with the answer (so a reveal step
    keeps the version of the page first shown), else the card's current one (`card` when
    the page already read the row)."""
    posted = request.POST.get("version", "") if request.method == "POST" else ""
    if posted.isdigit():
        return int(posted)
    if card is _UNREAD:
        card = LearnerCard.objects.filter(user=request.user, item=item).first()
    return services.card_version(card)


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


def card_context(
    request, item: Item, *, source: str, task=None, part=None, index=None, card=_UNREAD
):
    # The options, the "choose all" hint and the steps all read the choices: once.
    prefetch_related_objects([item], "choices")
    return {
        "version": _card_version(request, item, card),
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
    if is_htmx(request):
        # htmx swaps only 2xx answers by default; the partial carries the error message.
        return render(request, "learning/_card.html", context)
    return render(request, "learning/card_page.html", context, status=status)


def _already_answered(request, next_url: str) -> HttpResponse:
    """A stale answer (Back then Forward, a second tab) is refused: nothing is logged, the
    card keeps its schedule, and the page moves on to the next card with a notice."""
    messages.info(request, "Already answered: that card was answered before. Here is the next one.")
    if is_htmx(request):
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
    item = get_object_or_404(
        Item.objects.select_related("part", "chapter").prefetch_related("choices"),
        pk=item_id,
        retired=False,
    )
    tz = selectors.time_zone_of(request.user)
    source = request.POST.get("source", ReviewLogEntry.Source.DUE)
    if source not in ReviewLogEntry.Source.values:
        source = ReviewLogEntry.Source.DUE
    certainty = _certainty(request)
    base = card_context(
        request, item, source=source, part=request.POST.get("part"), index=request.POST.get("index")
    )
    mode = request.POST.get("mode", "")
    typed = request.POST.get("answer", "").strip()
    if mode == "show" and not (item.kind == Item.Kind.FREE_TEXT and typed):
        # Answer in your head (Anki's "Show answer"): a free text with something typed
        # still goes through the graded reveal below.
        sitting_add(request, item, time_zone=tz)
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
    # A queue answer shows "N left": the plan is read once, before the answer; the
    # service decides the plan's ticks from it and adds this review to it.
    state = None
    if source != ReviewLogEntry.Source.PRACTICE:
        state = selectors.plan_state(user=request.user, chapter=item.chapter, named=False)
    try:
        entry = services.review_record(
            user=request.user,
            item=item,
            checked=checked,
            source=source,
            count_toward_schedule=request.POST.get("count") == "on",
            duration_ms=duration,
            expected_version=int(posted_version) if posted_version.isdigit() else None,
            plan_state=state,
        )
    except (services.StaleAnswer, IntegrityError):
        return _already_answered(request, _next_url(source, item, request))
    sitting_add(request, item, time_zone=tz)
    card = entry.card_row
    if card is None:  # uncounted practice: the card, if any, is as it was
        card = LearnerCard.objects.filter(user=request.user, item=item).first()
    context = base | {
        "entry": entry,
        "checked": checked,
        "card": card,
        "next_url": _next_url(source, item, request),
        "ratings": [(r.value, r.name) for r in Rating],
        "time_zone": tz,
        "htmx": is_htmx(request),
        "remaining": len(selectors.due_queue(user=request.user, chapter=item.chapter, state=state))
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
    return redirect(posted_next(request, fallback="due"))


@login_required
def due(request):
    chapter = chapter_or_404()
    user = request.user
    now = timezone.now()
    state = selectors.plan_state(user=user, chapter=chapter, now=now)
    queue = selectors.queue_without_giveaways(
        queue=selectors.due_queue(user=user, chapter=chapter, now=now, state=state),
        answered=sitting_answered(request),
    )
    open_tasks = selectors.due_open_tasks(user=user, chapter=chapter, now=now, state=state)
    context = {
        "queue_size": len(queue),
        "open_tasks": open_tasks,
        "plan": state.plan if state else None,
    }
    if queue:
        entry = queue[0]
        known = {"card": entry.card} if entry.card is not None else {}
        context |= card_context(request, entry.item, source=entry.source, task=entry.task, **known)
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
