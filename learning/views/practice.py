"""Practice by part, and the practice problems with their hints."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.params import int_param
from learning import selectors, services
from learning.models import ReviewLogEntry
from learning.views.cards import card_context
from learning.views.common import MAX_LIST_INDEX, chapter_or_404
from quizbank.models import Part, Problem


@login_required
def practice_index(request):
    chapter = chapter_or_404()
    return render(
        request,
        "learning/practice_index.html",
        {"mastery": selectors.mastery_by_part(user=request.user, chapter=chapter)},
    )


@login_required
def practice_part(request, part_slug: str):
    chapter = chapter_or_404()
    part = get_object_or_404(Part, chapter=chapter, slug=part_slug, retired=False)
    items = selectors.practice_items(part=part)
    problems = part.problems.filter(retired=False)
    # A stale link past the end shows the end; only what is not a number is refused.
    index = int_param(request.GET, "n", default=0, maximum=MAX_LIST_INDEX)
    context = {"part": part, "items": items, "problems": problems, "count": len(items)}
    if items and index < len(items):
        item = items[index]
        item.part = part  # the card's heading names it: no second look-up
        context |= card_context(
            request, item, source=ReviewLogEntry.Source.PRACTICE, part=part.slug, index=index
        )
        context["position"] = index + 1
    else:
        context["finished"] = bool(items)
    return render(request, "learning/practice_part.html", context)


@login_required
def problem_detail(request, problem_slug: str):
    chapter = chapter_or_404()
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
    chapter = chapter_or_404()
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
