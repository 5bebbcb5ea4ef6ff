"""The exercise pages through Django's test client: forms, htmx fragments, isolation."""

from __future__ import annotations

from urllib.parse import quote_from_bytes

import pytest
from django.urls import reverse

from grading import flow, services
from grading.models import Submission
from grading.views import render_markdown
from tests.grading.conftest import SE_BLOCK_SOLUTION, SE_BLOCK_SYNTAX_ERROR

pytestmark = pytest.mark.django_db


@pytest.fixture
def statement():
    from quizbank.models import Chapter, ExerciseStatement, Part

    chapter = Chapter.objects.create(slug="resnet", title="ResNet", version="1")
    part = Part.objects.create(chapter=chapter, slug="se", title="SE", order=1)
    return ExerciseStatement.objects.create(
        chapter=chapter,
        part=part,
        slug="se-block",
        title="SE block (from the quiz bank)",
        statement="Gate each channel with $g = \\sigma(W_2\\,\\delta(W_1 s))$ where *s* is the "
        "mean of $x_{n,c,h,w}$ over $h, w$.\n\n<script>alert(1)</script>",
    )


@pytest.fixture
def client_in(client, learner):
    client.force_login(learner)
    return client


def test_pages_need_a_login(client):
    response = client.get(reverse("exercise-list"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_list_shows_all_eight_exercises_with_the_learners_best_score(client_in, learner):
    submission = services.submission_create(
        user=learner, exercise="se-block", code=SE_BLOCK_SOLUTION, enqueue=False
    )
    Submission.objects.filter(pk=submission.pk).update(status="failed", score=0.5)
    services.submission_create(
        user=learner, exercise="se-block", code=SE_BLOCK_SOLUTION, enqueue=False
    )
    response = client_in.get(reverse("exercise-list"))
    assert response.status_code == 200
    rows = response.context["rows"]
    assert len(rows) == 8
    se = next(row for row in rows if row.slug == "se-block")
    assert se.best_percent == 50 and se.attempts == 2
    assert all(row.best_score is None for row in rows if row.slug != "se-block")
    assert "50%" in response.content.decode()


def test_the_exercise_page_renders_the_statement_math_hints_and_starter_code(client_in, statement):
    from grading.engine import exercise_get

    spec = exercise_get("se-block")
    body = client_in.get(reverse("exercise-detail", args=["se-block"])).content.decode()
    assert "SE block (from the quiz bank)" in body
    # Math is left for KaTeX as written (escaped), not mangled by Markdown's emphasis.
    assert "$g = \\sigma(W_2\\,\\delta(W_1 s))$" in body
    assert "$x_{n,c,h,w}$" in body
    assert "<em>s</em>" in body
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body
    assert 'id="code"' in body and "class SEBlock(nn.Module)" in body
    assert "raise NotImplementedError" in body  # the starter code: nothing submitted yet
    assert body.count('<details class="hint">') == len(spec.hints)
    assert "vendor/codemirror/codemirror.min.js" in body and "js/editor.js" in body
    assert 'name="kind" value="sample"' in body and 'name="kind" value="submit"' in body


def test_the_editor_is_prefilled_with_the_last_submission(client_in, learner):
    services.submission_create(
        user=learner, exercise="se-block", code=SE_BLOCK_SOLUTION, enqueue=False
    )
    response = client_in.get(reverse("exercise-detail", args=["se-block"]))
    assert response.context["code"] == SE_BLOCK_SOLUTION


def test_markdown_drops_script_links_and_keeps_ordinary_ones():
    html = render_markdown("[a](javascript:alert(1)) [b](https://example.org/x) [c](/exercises/)")
    assert "javascript:" not in html
    assert 'href="https://example.org/x"' in html and 'href="/exercises/"' in html


def test_submitting_without_javascript_redirects_to_the_verdict_and_queues_once(
    client_in, learner, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_in.post(
            reverse("exercise-submit", args=["se-block"]),
            {"code": SE_BLOCK_SOLUTION, "kind": "sample"},
        )
    submission = Submission.objects.get(user=learner)
    assert response.status_code == 302
    assert response["Location"].endswith(f"?submission={submission.pk}#verdict")
    assert submission.kind == "sample" and submission.code == SE_BLOCK_SOLUTION
    assert [t.args for t in broker.take("grade.cpu")] == [[submission.pk]]
    page = client_in.get(response["Location"].split("#")[0]).content.decode()
    assert 'http-equiv="refresh"' in page  # no JS: the page reloads itself until the verdict
    assert f'hx-get="/submissions/{submission.pk}/status"' in page


def test_submitting_with_htmx_returns_a_fragment_that_polls_until_the_verdict(client_in, learner):
    response = client_in.post(
        reverse("exercise-submit", args=["se-block"]),
        {"code": SE_BLOCK_SYNTAX_ERROR, "kind": "submit"},
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    submission = Submission.objects.get(user=learner)
    assert response.status_code == 200 and "<html" not in body
    assert 'hx-trigger="load delay:' in body
    assert f"/submissions/{submission.pk}/status" in body

    flow.submission_grade(submission_id=submission.pk)  # a syntax error needs no sandbox
    final = client_in.get(reverse("submission-status", args=[submission.pk])).content.decode()
    assert "hx-trigger" not in final  # polling stops at the verdict
    assert "SyntaxError" in final and "syntax error" in final
    # Every test was stopped by the one syntax error: one row says so, listing them all.
    assert final.count('<td class="fail">fail</td>') == 1
    assert f"{submission.tests.count()} tests stopped by this" in final
    assert all(name in final for name in submission.tests.values_list("name", flat=True))
    assert 'data-error-line="' in final and "line " in final
    assert '<section id="attempts"' in final and 'hx-swap-oob="true"' in final


def test_an_oversized_form_submission_is_refused_and_the_code_kept(client_in, broker):
    code = "# " + "x" * (64 * 1024)
    response = client_in.post(reverse("exercise-submit", args=["se-block"]), {"code": code})
    assert response.status_code == 422
    assert "the limit is 65,536 bytes" in response.content.decode()
    assert response.context["code"] == code
    assert Submission.objects.count() == 0 and broker.all() == []


def test_a_form_body_that_is_not_utf8_is_refused(client_in, broker):
    body = b"kind=submit&code=" + quote_from_bytes(b"x = '\xe9t\xe9'\n").encode()
    response = client_in.post(
        reverse("exercise-submit", args=["se-block"]),
        body,
        content_type="application/x-www-form-urlencoded",
        headers={"HX-Request": "true"},
    )
    assert "not valid UTF-8" in response.content.decode()
    assert Submission.objects.count() == 0 and broker.all() == []


def test_another_learners_submission_is_404_on_every_page(client_in, other_learner):
    theirs = services.submission_create(
        user=other_learner, exercise="se-block", code=SE_BLOCK_SOLUTION, enqueue=False
    )
    assert client_in.get(reverse("submission-status", args=[theirs.pk])).status_code == 404
    detail = reverse("exercise-detail", args=["se-block"])
    assert client_in.get(f"{detail}?submission={theirs.pk}").status_code == 404
    page = client_in.get(detail)
    assert page.context["attempts"] == [] and page.context["current"] is None


def test_an_unknown_exercise_is_404(client_in):
    assert client_in.get(reverse("exercise-detail", args=["nope"])).status_code == 404


def test_the_nav_links_to_the_exercises(client_in):
    body = client_in.get(reverse("exercise-list")).content.decode()
    assert '<a href="/exercises/">Exercises</a>' in body


def test_attempt_times_are_shown_in_the_learners_time_zone(client_in, learner):
    import datetime as dt

    from accounts.services import profile_set_time_zone

    profile_set_time_zone(user=learner, time_zone="Asia/Tokyo")
    submission = services.submission_create(
        user=learner, exercise="se-block", code=SE_BLOCK_SOLUTION, enqueue=False
    )
    at = dt.datetime(2026, 3, 1, 20, 30, tzinfo=dt.UTC)
    Submission.objects.filter(pk=submission.pk).update(created_at=at)
    body = client_in.get(reverse("exercise-detail", args=["se-block"])).content.decode()
    assert "When (Asia/Tokyo)" in body and "2026-03-02 05:30:00" in body


def test_the_verdict_is_polled_often_at_first_and_less_and_less_while_it_waits(learner):
    from datetime import timedelta

    from django.utils import timezone

    from grading.templatetags.verdict import poll_delay_ms

    submission = services.submission_create(
        user=learner, exercise="se-block", code=SE_BLOCK_SOLUTION, kind="submit", enqueue=False
    )
    now = timezone.now()
    delays = []
    for waited in (0, 5, 30, 300):
        Submission.objects.filter(pk=submission.pk).update(
            queued_at=now - timedelta(seconds=waited), started_at=None
        )
        submission.refresh_from_db()
        delays.append(poll_delay_ms(submission))
    assert delays == [250, 500, 1000, 2000]
    # Once a worker starts it, the page asks often again: the verdict is near.
    Submission.objects.filter(pk=submission.pk).update(status="running", started_at=now)
    submission.refresh_from_db()
    assert poll_delay_ms(submission) == 250
