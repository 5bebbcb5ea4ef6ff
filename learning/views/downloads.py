"""The learner's files: the plan as a calendar, the cards as an Anki deck."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse

from learning import exports, selectors
from learning.views.common import chapter_or_404


@login_required
def plan_ics(request):
    chapter = chapter_or_404()
    plan_row = selectors.plan_active(user=request.user, chapter=chapter)
    if plan_row is None:
        raise Http404("Start the plan first.")
    body = exports.plan_to_ics(plan=plan_row, base_url=request.build_absolute_uri("/"))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="resnet-plan.ics"'
    return response


@login_required
def deck_apkg(request):
    chapter = chapter_or_404()
    data = exports.deck_to_apkg(chapter=chapter, user=request.user)
    response = HttpResponse(data, content_type="application/octet-stream")
    stamp = dt.date.today().isoformat()
    response["Content-Disposition"] = f'attachment; filename="resnet-cards-{stamp}.apkg"'
    return response
