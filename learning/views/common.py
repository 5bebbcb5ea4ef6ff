"""What several learner pages share: the chapter or a 404, the sitting kept in the
session, htmx detection and safe `next` targets."""

from __future__ import annotations

from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from learning import selectors
from quizbank.models import Chapter, Item

MAX_LIST_INDEX = 10_000  # far more cards in a part or hints in a problem than the bank has


def chapter_or_404() -> Chapter:
    chapter = selectors.chapter_current()
    if chapter is None:
        raise Http404("No content is loaded yet (run manage.py load_quizbank).")
    return chapter


SITTING_KEY = "review_sitting"
SITTING_MAX = 30


def _today(request, time_zone: str | None) -> str:
    return selectors.learner_today(
        user=request.user, now=timezone.now(), time_zone=time_zone
    ).isoformat()


def sitting_answered(request, *, time_zone: str | None = None) -> list[Item]:
    """Cards whose answer the learner saw today in this browser session (the sitting)."""
    sitting = request.session.get(SITTING_KEY) or {}
    if not sitting.get("items") or sitting.get("day") != _today(request, time_zone):
        return []
    ids = sitting.get("items", [])
    # Their options are read with the queue's (selectors.queue_without_giveaways).
    return list(Item.objects.filter(pk__in=ids).prefetch_related("rubric"))


def sitting_add(request, item: Item, *, time_zone: str | None = None) -> None:
    today = _today(request, time_zone)
    sitting = request.session.get(SITTING_KEY) or {}
    ids = sitting.get("items", []) if sitting.get("day") == today else []
    if item.pk not in ids:
        ids = (ids + [item.pk])[-SITTING_MAX:]
    request.session[SITTING_KEY] = {"day": today, "items": ids}


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def posted_next(request, *, fallback: str) -> str:
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
