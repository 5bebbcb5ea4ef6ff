"""The self-assessment: rate the skills, their history, one past sitting."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render

from accounts.params import small_int
from learning import selectors, services
from learning.models import SkillRatingSnapshot
from learning.views.common import chapter_or_404
from quizbank.models import Skill


@login_required
def skills_rate(request):
    chapter = chapter_or_404()
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
    chapter = chapter_or_404()
    user = request.user
    snapshots = SkillRatingSnapshot.objects.filter(user=user, chapter=chapter).order_by("-taken_at")
    tz = selectors.time_zone_of(user)
    skills = selectors.skills_of(chapter)
    scores = selectors.skills_latest_scores(user=user, chapter=chapter)
    return render(
        request,
        "learning/skills_history.html",
        {
            "history": selectors.skills_history(
                user=user, chapter=chapter, skills=skills, time_zone=tz
            ),
            "snapshots": snapshots,
            "readiness": selectors.skills_readiness(
                user=user, chapter=chapter, skills=skills, scores=scores
            ),
            "weakest": selectors.skills_weakest(
                user=user, chapter=chapter, skills=skills, scores=scores
            ),
            "time_zone": tz,
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
