"""The private calendar subscription: the learner's page to make, copy, regenerate or
revoke the secret URL, and the feed itself, which a calendar app fetches without a log-in.

An unknown, revoked or malformed secret gets the same bare 404 as any other: the answer
says nothing about whether a feed, a learner or a plan exists."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from learning import calendar_feed
from learning.models import LearnerPlan
from quizbank.models import Chapter

FEED_ACTIONS = {"create", "regenerate", "revoke"}


def _chapter() -> Chapter | None:
    return Chapter.objects.filter(retired=False).order_by("slug").first()


def _feed_url(request, token: str) -> str:
    return request.build_absolute_uri(reverse("calendar-feed", args=[token]))


@login_required
@require_GET
def calendar_page(request):
    feed = calendar_feed.feed_of(user=request.user)
    url = _feed_url(request, feed.token) if feed else ""
    chapter = _chapter()
    has_plan = bool(
        chapter
        and LearnerPlan.objects.filter(user=request.user, chapter=chapter, active=True).exists()
    )
    context = {
        "feed": feed,
        "feed_url": url,
        # webcal:// opens the system's calendar app with a "subscribe" prompt.
        "webcal_url": "webcal://" + url.split("://", 1)[1] if url else "",
        "has_plan": has_plan,
    }
    response = render(request, "learning/calendar.html", context)
    response["Referrer-Policy"] = "same-origin"  # the page shows the secret
    response["Cache-Control"] = "no-store, private"
    return response


@login_required
@require_POST
def calendar_manage(request):
    action = request.POST.get("action", "")
    if action not in FEED_ACTIONS:
        return HttpResponse("Unknown action.", status=400, content_type="text/plain")
    if action == "revoke":
        if calendar_feed.feed_revoke(user=request.user):
            messages.success(
                request,
                "The subscription URL no longer works; calendars that use it stop updating.",
            )
    else:
        calendar_feed.feed_issue(user=request.user)
        if action == "regenerate":
            messages.success(request, "New URL made: the old one no longer works.")
        else:
            messages.success(request, "Paste the URL below into your calendar app.")
    return redirect("calendar")


def _not_found() -> HttpResponse:
    response = HttpResponse("Not found.\n", status=404, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def calendar_feed_ics(request, token: str):
    user = calendar_feed.feed_owner(token=token)
    chapter = _chapter()
    if user is None or chapter is None:
        return _not_found()
    body = calendar_feed.feed_body(
        user=user, chapter=chapter, base_url=request.build_absolute_uri("/")
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="resnet-plan.ics"'
    response["Cache-Control"] = "no-cache, private"
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response
