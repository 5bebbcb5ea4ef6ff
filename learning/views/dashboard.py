"""The dashboard: what is due, the plan's calendar, skills and review figures.

Every part of the page reads the same few things (the plan's checkpoints, the skill
scores, the review log, the zone); they are read once here and passed to each part."""

from __future__ import annotations

from django.shortcuts import render
from django.utils import timezone

from learning import forecast, selectors


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
    tz = selectors.time_zone_of(user)
    # The dashboard counts and charts the plan's tasks without showing their lines.
    state = selectors.plan_state(user=user, chapter=chapter, now=now, named=False)
    scores = selectors.skills_latest_scores(user=user, chapter=chapter)
    skills = selectors.skills_of(chapter)
    queue = selectors.due_queue(user=user, chapter=chapter, now=now, state=state)
    open_tasks = selectors.due_open_tasks(user=user, chapter=chapter, now=now, state=state)
    by_day = selectors.reviews_local_days(user=user, time_zone=tz)
    plan = state.plan if state else None
    context = {
        "chapter": chapter,
        "plan": plan,
        "due_cards": len(queue),
        "due_tasks": len(open_tasks),
        "due_total": len(queue) + len(open_tasks),
        "streak": selectors.streak(user=user, now=now, days=by_day, time_zone=tz),
        "readiness": selectors.skills_readiness(
            user=user, chapter=chapter, skills=skills, scores=scores
        ),
        "weakest": selectors.skills_weakest(
            user=user, chapter=chapter, skills=skills, scores=scores
        ),
        "mastery": selectors.mastery_by_part(user=user, chapter=chapter),
        "calendar": selectors.plan_calendar(plan=plan, now=now, checkpoints=state.checkpoints)
        if state
        else [],
        "series": selectors.review_series(user=user, now=now, by_day=by_day, time_zone=tz),
        "forecast": forecast.due_per_day(user=user, chapter=chapter, now=now, time_zone=tz),
    }
    return render(request, "learning/dashboard.html", context)
