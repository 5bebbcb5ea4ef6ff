"""The paper discussion opens with its figure: the learner's own latest finished lab
curves when there are some, otherwise a schematic that says it is one; the peer playing
the interviewer only ever gets the schematic."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from interviews import services as mock_services
from lab.models import LabRun
from quizbank.models import MockStep
from tests.learning.factories_learner import make_content, make_user

pytestmark = pytest.mark.django_db


def _net(kind: str, layers: int, error: str = "") -> dict:
    return {"kind": kind, "layers": layers, "error": error, "grad_norms": [1.0, 0.5],
            "train_loss": [2.0, 1.0], "train_error": [0.8, 0.3], "test_error": 0.3,
            "seconds": 1.0}  # fmt: skip


@pytest.fixture
def paper(client):
    content = make_content()
    script = content.mock
    script.kind, script.slug = "paper_discussion", "paper-discussion"
    script.save()
    for order, item in enumerate(("free", "mc")):
        MockStep.objects.create(script=script, order=order, item=content.items[item])
    user = make_user("kaiming")
    client.force_login(user)
    attempt = mock_services.mock_start(user=user, script=script)
    return user, attempt


def _figure(html: str) -> str:
    found = re.findall(r'<figure class="card depth-figure".*?</figure>', html, re.S)
    assert len(found) == 1, f"{len(found)} figures"  # under the opening question only
    return found[0]


def test_without_a_lab_run_the_opening_shows_a_labelled_schematic(client, paper):
    _, attempt = paper
    html = client.get(reverse("mock-attempt", args=[attempt.pk])).content.decode()
    figure = _figure(html)
    assert 'data-source="schematic"' in figure and "Schematic, not data" in figure
    assert "<svg" in figure and 'id="lab-data"' not in html
    first_step = html.index('id="step-')
    second_step = html.index('id="step-', first_step + 1)
    assert first_step < html.index("depth-figure") < second_step
    assert "chart.umd.min.js" not in html


def test_the_learners_latest_finished_lab_run_is_drawn(client, paper, django_user_model):
    user, attempt = paper
    LabRun.objects.create(user=user, exercise="basic-block", code="", status="done",
                          settings={"seed": 7, "steps": 150, "every": 10},
                          finished_at=timezone.now(),
                          result={"networks": [_net("plain", 8), _net("residual", 8),
                                               _net("plain", 20), _net("residual", 20, "boom")]})  # fmt: skip
    # Neither a later failed run nor another learner's run is used.
    LabRun.objects.create(user=user, exercise="basic-block", code="", status="failed",
                          finished_at=timezone.now())  # fmt: skip
    LabRun.objects.create(user=make_user("other"), exercise="basic-block", code="",
                          status="done", finished_at=timezone.now(), settings={"seed": 9},
                          result={"networks": [_net("plain", 56)]})  # fmt: skip
    html = client.get(reverse("mock-attempt", args=[attempt.pk])).content.decode()
    figure = _figure(html)
    assert 'data-source="lab-run"' in figure and 'id="lab-error"' in figure
    data = json.loads(re.search(r'id="lab-data"[^>]*>(.*?)</script>', figure, re.S).group(1))
    assert [(n["kind"], n["layers"]) for n in data["networks"]] == [
        ("plain", 8),
        ("residual", 8),
        ("plain", 20),
    ]
    assert data["seed"] == 7 and data["depths"] == [8, 20]
    assert "seed 7" in figure and "8 and 20 layers" in figure and "Schematic" not in figure
    assert "chart.umd.min.js" in html and "js/lab.js" in html


def test_the_interviewer_sees_the_schematic_not_the_candidates_run(client, paper):
    user, attempt = paper
    LabRun.objects.create(user=user, exercise="basic-block", code="", status="done",
                          finished_at=timezone.now(), settings={"seed": 7},
                          result={"networks": [_net("plain", 8)]})  # fmt: skip
    client.post(reverse("mock-invite", args=[attempt.pk]), {"action": "invite"})
    attempt.refresh_from_db()
    client.logout()
    html = client.get(reverse("mock-interviewer", args=[attempt.interviewer_token])).content
    figure = _figure(html.decode())
    assert 'data-source="schematic"' in figure and "lab-data" not in html.decode()


def test_other_mocks_show_no_figure(client):
    content = make_content()
    MockStep.objects.create(script=content.mock, order=0, item=content.items["free"])
    user = make_user("ada")
    client.force_login(user)
    attempt = mock_services.mock_start(user=user, script=content.mock)
    html = client.get(reverse("mock-attempt", args=[attempt.pk])).content.decode()
    assert "depth-figure" not in html
