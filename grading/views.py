"""Exercise pages and the API-token page. Thin: reads via selectors, writes via services.

The submit form is a plain POST that works without JavaScript; with htmx the same
endpoint answers the verdict fragment, which polls itself every second until final.
"""

from __future__ import annotations

import html
import re
import urllib.parse
import xml.etree.ElementTree as etree

import markdown
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_POST
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

from accounts import selectors as account_selectors
from grading import selectors, services
from grading.models import Submission

# --- Markdown with math, rendered safely ----------------------------------------------

_MATH = re.compile(r"\$\$.+?\$\$|\\\[.+?\\\]|\\\(.+?\\\)|(?<![\\$])\$[^$\n]+?\$", re.DOTALL)
# A URL is kept when its scheme is one of these, or when it has none (no colon before
# the first / ? #): that drops javascript:, data: and vbscript: links.
_SAFE_URL = re.compile(r"^(?:(?:https?|mailto):|[^:/?#]*(?:[/?#]|$))", re.IGNORECASE)


class _DropUnsafeUrls(Treeprocessor):
    def run(self, root: etree.Element) -> None:
        for element in root.iter():
            for attribute in ("href", "src"):
                value = element.get(attribute)
                if value is not None and not _SAFE_URL.match(value.strip()):
                    del element.attrib[attribute]


class _SafeMarkdown(Extension):
    """No raw HTML (it is shown as text) and no javascript: or data: links."""

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 - the library's name
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_DropUnsafeUrls(md), "drop_unsafe_urls", 0)


def render_markdown(text: str) -> SafeString:
    """Markdown to HTML; math is kept verbatim (escaped) for KaTeX to render in the page."""
    spans: list[str] = []

    def stash(match: re.Match[str]) -> str:
        spans.append(match.group(0))
        return f"MATHSPAN{len(spans) - 1}END"

    protected = _MATH.sub(stash, text)
    body = markdown.markdown(
        protected, extensions=["fenced_code", "tables", "sane_lists", _SafeMarkdown()]
    )
    body = re.sub(r"MATHSPAN(\d+)END", lambda m: html.escape(spans[int(m.group(1))]), body)
    return mark_safe(body)  # noqa: S308 - raw HTML was disabled above and math is escaped


# --- exercise pages --------------------------------------------------------------------


def _spec_or_404(slug: str):
    from grading import engine

    try:
        return engine.exercise_get(slug)
    except KeyError:
        raise Http404("No such exercise.") from None


def _form_code(request: HttpRequest) -> str | bytes:
    """The posted code as sent: bytes when the form body can be read strictly.

    Django decodes form fields leniently (bad bytes become U+FFFD); the raw bytes let the
    service refuse a non-UTF-8 source with a clear message instead of grading mojibake.
    """
    if request.content_type == "application/x-www-form-urlencoded":
        pairs = urllib.parse.parse_qsl(
            request.body.decode("latin-1"), keep_blank_values=True, encoding="latin-1"
        )
        for key, value in pairs:
            if key == "code":
                return value.encode("latin-1")
        return ""
    return request.POST.get("code", "")


def _detail_context(request: HttpRequest, slug: str, *, code: str | None = None) -> dict:
    spec = _spec_or_404(slug)
    statement = selectors.exercise_statement_get(slug=slug)
    # The quiz bank's text is the edited one; the exercise's own is the fallback.
    statement_text = statement.statement if statement is not None else spec.statement
    attempts = list(selectors.submission_list_for(user=request.user, exercise=slug))
    current = None
    wanted = request.GET.get("submission")
    if wanted and wanted.isdigit():
        current = selectors.submission_get_for(user=request.user, submission_id=int(wanted))
        if current.exercise != slug:
            raise Http404("No such submission for this exercise.")
    elif attempts:
        current = selectors.submission_get_for(user=request.user, submission_id=attempts[0].pk)
    if code is None:
        code = selectors.submission_last_code(user=request.user, exercise=slug)
    return {
        "spec": spec,
        "title": statement.title if statement is not None else spec.title,
        "statement_html": render_markdown(statement_text) if statement_text else "",
        "hints": [render_markdown(h) for h in spec.hints],
        "code": code if code is not None else spec.starter_code,
        "starter_code": spec.starter_code,
        "attempts": attempts,
        "current": current,
        # Submit and Run are disabled while this run is graded (editor.js keeps it so).
        "pending": current is not None and not current.is_final,
        "max_kib": services.MAX_SOURCE_BYTES // 1024,
        "gpu_offered": services.gpu_tests_offered(spec=spec),
        "time_zone": account_selectors.learner_time_zone(user=request.user),
    }


@login_required
@require_GET
def exercise_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.exercise_list_for(user=request.user)
    return render(request, "grading/exercise_list.html", {"rows": rows})


@login_required
@require_GET
def exercise_detail(request: HttpRequest, slug: str) -> HttpResponse:
    return render(request, "grading/exercise_detail.html", _detail_context(request, slug))


@login_required
@require_POST
def exercise_submit(request: HttpRequest, slug: str) -> HttpResponse:
    _spec_or_404(slug)
    kind = request.POST.get("kind", Submission.Kind.SUBMIT)
    code = _form_code(request)
    is_htmx = request.headers.get("HX-Request") == "true"
    try:
        submission = services.submission_create(
            user=request.user, exercise=slug, code=code, kind=kind,
            on_gpu=request.POST.get("on_gpu") == "1",
        )  # fmt: skip
    except services.SubmissionRefused as exc:
        if is_htmx:
            return render(request, "grading/_refused.html", {"reason": str(exc)})
        shown = code.decode("utf-8", "replace") if isinstance(code, bytes) else code
        context = _detail_context(request, slug, code=shown)
        context["refused"] = str(exc)
        return render(request, "grading/exercise_detail.html", context, status=422)
    if is_htmx:
        return render(request, "grading/_verdict.html", {"current": submission, "fresh": True})
    url = reverse("exercise-detail", args=[slug])
    return redirect(f"{url}?submission={submission.pk}#verdict")


@login_required
@require_GET
def submission_status(request: HttpRequest, pk: int) -> HttpResponse:
    submission = selectors.submission_get_for(user=request.user, submission_id=pk)
    context = {"current": submission}
    if submission.is_final:
        context["attempts"] = selectors.submission_list_for(
            user=request.user, exercise=submission.exercise
        )
        context["oob_attempts"] = True
        context["time_zone"] = account_selectors.learner_time_zone(user=request.user)
    return render(request, "grading/_verdict.html", context)
