"""Mock-interview pages. Views use the real clock, so the state is built with services at
chosen times relative to now (an attempt started 700 s ago on a 600 s script is overdue)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from interviews import services as mock_services
from interviews.models import MockAnswer, MockAttempt
from quizbank.models import MockScript, MockStep
from tests.learning.factories_learner import make_content, make_user

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def content():
    content = make_content()
    content.mock.intro = "Ten quick questions."
    content.mock.save()
    MockStep.objects.create(
        script=content.mock,
        order=1,
        item=content.items["free"],
        interviewer_note="Listens for the training panel.",
    )
    MockStep.objects.create(script=content.mock, order=2, exercise=content.exercise)
    return content


@pytest.fixture
def ada(client):
    user = make_user("ada")
    client.force_login(user)
    return user


def ago(seconds: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=seconds)


def first_step(attempt: MockAttempt) -> MockStep:
    return attempt.script.steps.order_by("order").first()


def texts(attempt: MockAttempt) -> list[str]:
    return [a.text for a in MockAnswer.objects.filter(attempt=attempt).order_by("step__order")]


def test_pages_need_a_login(client, content):
    response = client.get(reverse("mock-list"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_list_shows_each_script_with_duration_options_and_earlier_attempts(client, content, ada):
    submitted = mock_services.mock_start(user=ada, script=content.mock, now=ago(3000))
    mock_services.mock_submit(attempt=submitted, now=ago(2900))
    overdue = mock_services.mock_start(
        user=ada, script=content.mock, time_factor=2.0, now=ago(1300)
    )
    body = client.get(reverse("mock-list")).content.decode()
    assert "(extra time &times;2)" in body
    assert "Rapid fire" in body
    assert 'id="rapid-fire"' in body  # the plan's mock task links to /mock/#<slug>
    assert "Standard (10 min)" in body
    assert "Extra time ×1.5 (15 min)" in body
    assert "Extra time ×2 (20 min)" in body
    assert "Ten quick questions." in body
    for value in ("standard", "x1.5", "x2", "untimed"):
        assert f'value="{value}"' in body
    assert "Submitted by the learner" in body
    # the list finalises an attempt whose time ran out while the tab was closed
    assert "Time ran out" in body
    overdue.refresh_from_db()
    assert overdue.end_reason == MockAttempt.EndReason.EXPIRED
    assert reverse("mock-review", args=[submitted.pk]) in body


@pytest.mark.parametrize(
    ("option", "factor", "untimed", "seconds"),
    [("standard", 1.0, False, 600), ("x1.5", 1.5, False, 900), ("x2", 2.0, False, 1200)],
)
def test_start_form_sets_the_deadline_from_the_chosen_time(
    client, content, ada, option, factor, untimed, seconds
):
    response = client.post(reverse("mock-start", args=["rapid-fire"]), {"time": option})
    attempt = MockAttempt.objects.get(user=ada)
    assert response["Location"] == reverse("mock-attempt", args=[attempt.pk])
    assert (attempt.time_factor, attempt.untimed) == (factor, untimed)
    assert (attempt.deadline - attempt.started_at).total_seconds() == seconds


def test_start_untimed_has_no_countdown(client, content, ada):
    client.post(reverse("mock-start", args=["rapid-fire"]), {"time": "untimed"})
    attempt = MockAttempt.objects.get(user=ada)
    assert attempt.untimed and attempt.deadline is None
    body = client.get(reverse("mock-attempt", args=[attempt.pk])).content.decode()
    assert "Untimed." in body
    assert 'id="mock-remaining"' not in body


def test_starting_a_running_mock_again_resumes_it(client, content, ada):
    first = client.post(reverse("mock-start", args=["rapid-fire"]), {"time": "standard"})
    again = client.post(reverse("mock-start", args=["rapid-fire"]), {"time": "x2"})
    attempt = MockAttempt.objects.get(user=ada)
    assert first["Location"] == again["Location"] == reverse("mock-attempt", args=[attempt.pk])
    assert attempt.time_factor == 1.0
    assert any("already running" in str(m) for m in get_messages(again.wsgi_request))


def test_start_with_an_unknown_option_starts_nothing(client, content, ada):
    response = client.post(reverse("mock-start", args=["rapid-fire"]), {"time": "x10"})
    assert response.status_code == 302
    assert not MockAttempt.objects.exists()


def test_attempt_page_shows_questions_deadline_and_autosave_wiring(client, content, ada):
    attempt = mock_services.mock_start(user=ada, script=content.mock, now=ago(60))
    step = first_step(attempt)
    body = client.get(reverse("mock-attempt", args=[attempt.pk])).content.decode()
    assert body.index("In 60 seconds: what is the degradation problem?") < body.index(
        "Basic block (opens in a new tab)"
    )
    assert 'target="_blank"' in body
    assert reverse("exercise-detail", args=["basic-block"]) in body
    assert f'hx-post="{reverse("mock-autosave", args=[attempt.pk, step.pk])}"' in body
    assert 'hx-trigger="keyup changed delay:1500ms, blur"' in body
    # the no-JS fallback: the deadline as a time, and remaining seconds from the server
    assert timezone.localtime(attempt.deadline, dt.UTC).strftime("%H:%M:%S") in body
    remaining_ms = int(body.split('data-remaining-ms="')[1].split('"')[0])
    assert 535_000 <= remaining_ms <= 540_000
    shown = body.split('id="mock-remaining"')[1].split(">")[1].split("<")[0]
    assert shown in {"9:00", "8:59", "8:58"}
    assert 'aria-live="assertive"' in body
    assert "js/mock.js" in body


def test_reloading_does_not_move_the_clock_and_keeps_the_answers(client, content, ada):
    attempt = mock_services.mock_start(user=ada, script=content.mock, now=ago(120))
    before = (attempt.started_at, attempt.deadline)
    step = first_step(attempt)
    client.post(
        reverse("mock-autosave", args=[attempt.pk, step.pk]),
        {f"text-{step.pk}": "my draft"},
        **HTMX,
    )
    for _ in range(2):
        body = client.get(reverse("mock-attempt", args=[attempt.pk])).content.decode()
        assert ">my draft</textarea>" in body
    attempt.refresh_from_db()
    assert (attempt.started_at, attempt.deadline) == before
    remaining_ms = int(body.split('data-remaining-ms="')[1].split('"')[0])
    assert remaining_ms <= 480_000


def test_htmx_autosave_stores_the_text_and_answers_saved_at(client, content, ada):
    attempt = mock_services.mock_start(user=ada, script=content.mock, now=ago(10))
    step = first_step(attempt)
    response = client.post(
        reverse("mock-autosave", args=[attempt.pk, step.pk]),
        {f"text-{step.pk}": "Training error rises."},
        **HTMX,
    )
    assert response.status_code == 200
    assert "Saved at" in response.content.decode()
    assert texts(attempt)[0] == "Training error rises."


def test_htmx_autosave_after_the_deadline_is_refused_and_sends_to_the_review(client, content, ada):
    attempt = mock_services.mock_start(user=ada, script=content.mock, now=ago(700))
    step = first_step(attempt)
    mock_services.mock_autosave(attempt=attempt, step=step, text="kept", now=ago(150))
    response = client.post(
        reverse("mock-autosave", args=[attempt.pk, step.pk]),
        {f"text-{step.pk}": "too late"},
        **HTMX,
    )
    assert response.status_code == 409
    assert response["HX-Redirect"] == reverse("mock-review", args=[attempt.pk])
    assert texts(attempt)[0] == "kept"
    review = client.get(response["HX-Redirect"]).content.decode()
    assert "answers sent after the deadline are not accepted" in review
    assert "kept" in review


def test_form_save_without_js_saves_every_answer_and_is_refused_after_the_deadline(
    client, content, ada
):
    attempt = mock_services.mock_start(user=ada, script=content.mock, now=ago(30))
    s1, s2 = attempt.script.steps.order_by("order")
    response = client.post(
        reverse("mock-save", args=[attempt.pk]),
        {f"text-{s1.pk}": "answer one", f"text-{s2.pk}": "notes two"},
    )
    assert response["Location"] == reverse("mock-attempt", args=[attempt.pk])
    assert texts(attempt) == ["answer one", "notes two"]

    late = mock_services.mock_start(user=make_user("cy"), script=content.mock, now=ago(700))
    client.force_login(late.user)
    response = client.post(reverse("mock-save", args=[late.pk]), {f"text-{s1.pk}": "late"})
    assert response["Location"] == reverse("mock-review", args=[late.pk])
    assert texts(late) == ["", ""]
    assert any("not accepted" in str(m) for m in get_messages(response.wsgi_request))


def test_submit_saves_the_form_ends_the_attempt_and_opens_the_review(client, content, ada):
    attempt = mock_services.mock_start(user=ada, script=content.mock, now=ago(100))
    step = first_step(attempt)
    response = client.post(
        reverse("mock-submit", args=[attempt.pk]),
        {f"text-{step.pk}": "It is overfitting because the training error is high."},
    )
    assert response["Location"] == reverse("mock-review", args=[attempt.pk])
    attempt.refresh_from_db()
    assert attempt.end_reason == MockAttempt.EndReason.SUBMITTED
    review = client.get(response["Location"]).content.decode()
    assert "It is overfitting because" in review
    assert "Deeper plain nets reach higher training error" in review  # the model answer
    assert "Instant rejection: &ldquo;overfitting&rdquo;" in review
    assert "Training error rises too." in review  # the trap's why
    assert "Listens for the training panel." in review  # interviewer note
    assert "1 of 2</strong> questions answered" in review
    assert "1 of 3</strong> rubric points covered" in review
    training_point = content.items["free"].rubric.get(order=1)
    assert f'value="{training_point.pk}" checked' in review


def test_the_automatic_submit_after_the_deadline_ends_as_expired(client, content, ada):
    attempt = mock_services.mock_start(user=ada, script=content.mock, now=ago(700))
    step = first_step(attempt)
    mock_services.mock_autosave(attempt=attempt, step=step, text="autosaved", now=ago(200))
    response = client.post(
        reverse("mock-submit", args=[attempt.pk]), {f"text-{step.pk}": "typed too late"}
    )
    assert response["Location"] == reverse("mock-review", args=[attempt.pk])
    attempt.refresh_from_db()
    assert attempt.end_reason == MockAttempt.EndReason.EXPIRED
    assert attempt.ended_at == attempt.deadline
    assert texts(attempt)[0] == "autosaved"


def test_an_overdue_attempt_page_expires_lazily_and_shows_the_review(client, content, ada):
    attempt = mock_services.mock_start(user=ada, script=content.mock, now=ago(700))
    mock_services.mock_autosave(attempt=attempt, step=first_step(attempt), text="x", now=ago(650))
    response = client.get(reverse("mock-attempt", args=[attempt.pk]))
    assert response["Location"] == reverse("mock-review", args=[attempt.pk])
    attempt.refresh_from_db()
    assert attempt.end_reason == MockAttempt.EndReason.EXPIRED


def test_review_waits_for_the_end_of_the_attempt(client, content, ada):
    attempt = mock_services.mock_start(user=ada, script=content.mock, now=ago(10))
    response = client.get(reverse("mock-review", args=[attempt.pk]))
    assert response["Location"] == reverse("mock-attempt", args=[attempt.pk])


def test_review_form_saves_the_learners_ticks(client, content, ada):
    attempt = mock_services.mock_start(user=ada, script=content.mock, now=ago(100))
    step = first_step(attempt)
    mock_services.mock_autosave(attempt=attempt, step=step, text="training error", now=ago(90))
    mock_services.mock_submit(attempt=attempt, now=ago(80))
    points = list(content.items["free"].rubric.order_by("order").values_list("pk", flat=True))
    response = client.post(
        reverse("mock-review", args=[attempt.pk]), {f"tick-{step.pk}": [points[2]]}
    )
    assert response.status_code == 302
    answer = MockAnswer.objects.get(attempt=attempt, step=step)
    assert answer.rubric_ticked == [points[2]]
    review = client.get(reverse("mock-review", args=[attempt.pk])).content.decode()
    assert f'value="{points[2]}" checked' in review
    assert f'value="{points[0]}" checked' not in review


def test_another_learners_attempt_is_a_404_everywhere(client, content, ada):
    bob = make_user("bob")
    ended = mock_services.mock_start(user=bob, script=content.mock, now=ago(100))
    mock_services.mock_autosave(attempt=ended, step=first_step(ended), text="bob", now=ago(90))
    mock_services.mock_submit(attempt=ended, now=ago(50))
    running = mock_services.mock_start(user=bob, script=content.mock, now=ago(10))
    step = first_step(running)
    field = {f"text-{step.pk}": "ada writes"}
    assert client.get(reverse("mock-attempt", args=[running.pk])).status_code == 404
    assert (
        client.post(reverse("mock-autosave", args=[running.pk, step.pk]), field, **HTMX).status_code
        == 404
    )
    assert client.post(reverse("mock-save", args=[running.pk]), field).status_code == 404
    assert client.post(reverse("mock-submit", args=[running.pk]), field).status_code == 404
    assert client.get(reverse("mock-review", args=[ended.pk])).status_code == 404
    assert client.post(reverse("mock-review", args=[ended.pk]), {}).status_code == 404
    running.refresh_from_db()
    assert running.ended_at is None
    assert texts(running) == ["", ""]
    listing = client.get(reverse("mock-list")).content.decode()
    assert reverse("mock-review", args=[ended.pk]) not in listing
    assert reverse("mock-attempt", args=[running.pk]) not in listing


def test_every_real_script_runs_from_start_to_review(client, ada):
    call_command("load_quizbank", verbosity=0)
    for script in MockScript.objects.order_by("order"):
        response = client.post(reverse("mock-start", args=[script.slug]), {"time": "x2"})
        attempt = MockAttempt.objects.get(user=ada, script=script)
        assert attempt.deadline - attempt.started_at == dt.timedelta(seconds=2 * script.duration_s)
        page = client.get(response["Location"])
        assert page.status_code == 200
        body = page.content.decode()
        assert body.count("<textarea") == script.steps.count()
        for step in script.steps.filter(exercise__isnull=False):
            assert reverse("exercise-detail", args=[step.exercise.slug]) in body
        client.post(reverse("mock-submit", args=[attempt.pk]))
        review = client.get(reverse("mock-review", args=[attempt.pk]))
        assert review.status_code == 200
        answered = f"0 of {script.steps.count()}</strong> questions answered"
        assert answered in review.content.decode()
