"""The plan page, starting or restarting the plan, ticking a task by hand."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from learning import selectors, services
from learning.models import LearnerPlan
from learning.views.common import chapter_or_404, posted_next
from quizbank.models import ReviewTask


@login_required
def plan(request):
    chapter = chapter_or_404()
    now = timezone.now()
    state = selectors.plan_state(user=request.user, chapter=chapter, now=now)
    checkpoints = state.checkpoints if state else []
    past = LearnerPlan.objects.filter(user=request.user, chapter=chapter, active=False)
    tz = selectors.time_zone_of(request.user)
    return render(
        request,
        "learning/plan.html",
        {
            "plan": state.plan if state else None,
            "checkpoints": checkpoints,
            "today": [c for c in checkpoints if c.status == "today"],
            "overdue": [c for c in checkpoints if c.status == "overdue"],
            "upcoming": [c for c in checkpoints if c.status == "upcoming"],
            "done": [c for c in checkpoints if c.status == "done"],
            "past_plans": past,
            "local_today": selectors.learner_today(user=request.user, now=now, time_zone=tz),
            "time_zone": tz,
        },
    )


@login_required
@require_POST
def plan_start(request):
    chapter = chapter_or_404()
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


@login_required
@require_POST
def plan_task_confirm(request, plan_id: int, task_id: int):
    plan_row = get_object_or_404(LearnerPlan, pk=plan_id, user=request.user)
    task = get_object_or_404(
        ReviewTask.objects.select_related("review_day"),
        pk=task_id,
        review_day__chapter=plan_row.chapter_id,
    )
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the box to confirm you did it.")
        return redirect("plan")
    try:
        services.plan_task_confirm(plan=plan_row, task=task)
    except services.PlanError as exc:
        messages.error(request, str(exc))
        return redirect("plan")
    messages.success(request, f"Done: {task.title}")
    return redirect(posted_next(request, fallback="plan"))
