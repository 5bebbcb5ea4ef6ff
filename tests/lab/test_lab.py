"""The lab: the learner's block stacked deep, run in the real sandbox, curves stored.

The claims the page makes are checked on our reference block at the CPU defaults (run
in-process through the same harness code, to keep CI short); runs of learners' code go
through the Docker sandbox.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from django.urls import reverse

from grading.models import Submission
from lab import services
from lab.models import LabRun

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = (ROOT / "grading/exercises/basic_block/reference.py").read_text()
DETACHED = (ROOT / "tests/grading/variants/basic_block/wrong_detached_skip.py").read_text()


def _harness():
    spec = importlib.util.spec_from_file_location("lab_harness", services.HARNESS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_at_the_cpu_defaults_the_reference_block_shows_what_the_page_claims():
    from grading.exercises.basic_block.reference import BasicBlock

    torch.set_num_threads(1)
    settings = {**services.lab_defaults(), "seed": 1, "classes": 10}
    result = _harness().run_lab(BasicBlock, services.digits(), settings)
    found = services.findings(result)
    assert found["depths"] == [20, 56]
    # The deeper plain network trains worse; the deeper residual one does not.
    assert found["degradation"] is True, found
    # Gradient norms spread across a plain network's blocks more as it deepens.
    assert found["gradients"] is True, found


def test_findings_say_nothing_when_a_network_failed():
    result = {"networks": [
        {"kind": "plain", "layers": 8, "error": "", "grad_norms": [1.0], "train_loss": [0.1]},
        {"kind": "residual", "layers": 8, "error": "RuntimeError: x", "grad_norms": [],
         "train_loss": []},
    ]}  # fmt: skip
    found = services.findings(result)
    assert found["degradation"] is None and found["gradients"] is None


@pytest.mark.docker
def test_a_lab_in_the_sandbox_is_deterministic_for_a_seed(sandbox_image):
    config = {"ns": [1], "steps": 20, "batch": 32, "lr": 0.05, "every": 5, "seed": 3}
    first, problem, _ = services.lab_execute(
        code=REFERENCE, exercise="basic-block", settings_=config, backend="docker",
        image=sandbox_image,
    )  # fmt: skip
    assert first is not None, problem
    second, problem, _ = services.lab_execute(
        code=REFERENCE, exercise="basic-block", settings_=config, backend="docker",
        image=sandbox_image,
    )  # fmt: skip
    assert second is not None, problem
    assert [n["kind"] for n in first["networks"]] == ["plain", "residual"]
    for a, b in zip(first["networks"], second["networks"], strict=True):
        assert a["train_loss"] == b["train_loss"] and a["grad_norms"] == b["grad_norms"]
        assert len(a["train_loss"]) == 4 and len(a["grad_norms"]) == 3


@pytest.mark.docker
def test_a_wrong_block_still_runs_and_a_broken_one_says_why(sandbox_image):
    config = {"ns": [1], "steps": 10, "batch": 32, "lr": 0.05, "every": 5, "seed": 3}
    result, problem, _ = services.lab_execute(
        code=DETACHED, exercise="basic-block", settings_=config, backend="docker",
        image=sandbox_image,
    )  # fmt: skip
    assert result is not None, problem
    assert all(not n["error"] and n["train_loss"] for n in result["networks"])
    broken, problem, _ = services.lab_execute(
        code="raise ImportError('nope')\n", exercise="basic-block", settings_=config,
        backend="docker", image=sandbox_image,
    )  # fmt: skip
    assert broken is None and "ImportError: nope" in problem


@pytest.mark.django_db
def test_the_lab_needs_a_passing_submission_and_runs_one_at_a_time(client, django_user_model):
    user = django_user_model.objects.create_user(username="labber", password="lab-pass-123")
    client.force_login(user)
    panel = client.get(reverse("lab-panel", args=["basic-block"])).content.decode()
    assert "Pass the graded tests" in panel
    with pytest.raises(services.LabRefused, match="Pass the graded tests"):
        services.lab_start(user=user, exercise="basic-block", enqueue=False)
    Submission.objects.create(user=user, exercise="basic-block", code=REFERENCE,
                              kind="submit", status="passed")  # fmt: skip
    run = services.lab_start(user=user, exercise="basic-block", seed=5, enqueue=False)
    assert run.status == "queued" and run.settings["seed"] == 5 and run.code == REFERENCE
    with pytest.raises(services.LabRefused, match="already running"):
        services.lab_start(user=user, exercise="basic-block", enqueue=False)
    assert client.get(reverse("lab-panel", args=["se-block"])).status_code == 404
    assert services.lab_cancel(user=user, run_id=run.pk)
    assert LabRun.objects.get(pk=run.pk).status == "cancelled"


@pytest.mark.django_db
@pytest.mark.docker
def test_the_worker_stores_a_run_and_the_panel_draws_it(client, django_user_model, settings,
                                                        sandbox_image):  # fmt: skip
    settings.SANDBOX_BACKEND, settings.SANDBOX_IMAGE = "docker", sandbox_image
    user = django_user_model.objects.create_user(username="labber2", password="lab-pass-123")
    client.force_login(user)
    Submission.objects.create(user=user, exercise="basic-block", code=REFERENCE,
                              kind="submit", status="passed")  # fmt: skip
    run = services.lab_start(user=user, exercise="basic-block", seed=2, enqueue=False)
    LabRun.objects.filter(pk=run.pk).update(
        settings={"ns": [1], "steps": 10, "batch": 32, "lr": 0.05, "every": 5, "seed": 2}
    )
    done = services.lab_run(run_id=run.pk)
    assert done.status == "done", done.detail
    assert services.lab_run(run_id=run.pk) is None  # claimed once only
    panel = client.get(reverse("lab-panel", args=["basic-block"])).content.decode()
    assert 'id="lab-data"' in panel and 'id="lab-loss"' in panel
    assert "plain, 8 layers" in panel and "residual, 8 layers" in panel
    # One depth only: the page does not claim degradation it could not show.
    assert "cannot say whether depth hurt" in panel


@pytest.mark.django_db(transaction=True)
@pytest.mark.docker
def test_the_worker_stores_partial_curves_while_the_block_trains(settings, sandbox_image,
                                                                 django_user_model):  # fmt: skip
    """Read from another connection while lab_run works, as the page's poll does."""
    import threading
    import time

    from django.db import connection

    settings.SANDBOX_BACKEND, settings.SANDBOX_IMAGE = "docker", sandbox_image
    settings.LAB_PROGRESS_EVERY_S = 0.2
    user = django_user_model.objects.create_user(username="labber3", password="lab-pass-123")
    run = LabRun.objects.create(
        user=user, exercise="basic-block", code=REFERENCE,
        settings={"ns": [1], "steps": 60, "batch": 32, "lr": 0.05, "every": 5, "seed": 4},
    )  # fmt: skip
    seen: list[dict] = []
    stop = threading.Event()

    def watch() -> None:
        try:
            while not stop.is_set():
                row = LabRun.objects.filter(pk=run.pk).values("status", "progress").first()
                if row["status"] == "running" and row["progress"]:
                    seen.append(row["progress"])
                time.sleep(0.1)
        finally:
            connection.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        done = services.lab_run(run_id=run.pk)
    finally:
        stop.set()
        watcher.join()
    assert done.status == "done", done.detail
    # Seen mid-way: some points for the first network, not yet all of the second's.
    partial = [s for s in seen if 0 < len(s["networks"][0]["train_loss"])
               and len(s["networks"][1]["train_loss"]) < 12]  # fmt: skip
    assert partial, f"{len(seen)} snapshots seen, none partial"
    assert partial[0]["networks"][0]["kind"] == "plain" and partial[0]["points"] == 12
    # The last stored progress matches the final frame's curves (rounded for display).
    for net, final in zip(done.progress["networks"], done.result["networks"], strict=True):
        assert net["state"] == "done" and net["step"] == 60
        assert net["train_loss"] == [round(v, 5) for v in final["train_loss"]]
        assert net["grad_norms"] == final["grad_norms"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.docker
def test_cancelling_a_running_lab_stops_its_sandbox(settings, sandbox_image, django_user_model):
    """The learner cancels from the page (another connection) while the worker trains: the
    worker's sandbox is killed within seconds, the run stays cancelled, nothing is stored
    over it, and the learner can start the next lab at once."""
    import threading
    import time

    settings.SANDBOX_BACKEND, settings.SANDBOX_IMAGE = "docker", sandbox_image
    settings.LAB_PROGRESS_EVERY_S = 0.5
    user = django_user_model.objects.create_user(username="labber4", password="lab-pass-123")
    Submission.objects.create(user=user, exercise="basic-block", code=REFERENCE,
                              kind="submit", status="passed")  # fmt: skip
    run = services.lab_start(user=user, exercise="basic-block", seed=4, enqueue=False)
    # Long enough that it would run for minutes if nothing stopped it.
    LabRun.objects.filter(pk=run.pk).update(
        settings={"ns": [3, 9], "steps": 3000, "batch": 64, "lr": 0.05, "every": 10, "seed": 4}
    )
    box: dict = {}
    worker = threading.Thread(target=lambda: box.update(run=services.lab_run(run_id=run.pk)))
    worker.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until the first progress is stored: training
        row = LabRun.objects.filter(pk=run.pk).values("status", "progress").first()
        if row["status"] == "running" and row["progress"]:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the lab never reported progress")
    asked = time.monotonic()
    assert services.lab_cancel(user=user, run_id=run.pk)
    worker.join(60)
    assert not worker.is_alive(), "the worker's lab went on after the cancel"
    stopped_after = time.monotonic() - asked
    assert stopped_after < 5, f"{stopped_after:.1f} s from the cancel to the sandbox's end"
    done = box["run"]
    assert done.status == "cancelled" and done.result == {}
    again = services.lab_start(user=user, exercise="basic-block", enqueue=False)
    assert again.status == "queued"


@pytest.mark.django_db
def test_a_running_lab_shows_a_bar_per_network_and_its_partial_curves(client,
                                                                      django_user_model):  # fmt: skip
    from django.utils import timezone

    from lab.progress import LabProgress

    user = django_user_model.objects.create_user(username="labber4", password="lab-pass-123")
    client.force_login(user)
    progress = LabProgress({"ns": [1, 3], "steps": 150, "every": 10})
    progress._apply({"net": 0, "grad_norms": [1.0, 0.5, 0.25]})
    for step in (10, 20, 30):
        progress._apply({"net": 0, "step": step, "loss": 2.0 / step, "err": 0.5})
    LabRun.objects.create(user=user, exercise="basic-block", code=REFERENCE, status="running",
                          started_at=timezone.now(), settings={"seed": 1},
                          progress=progress.snapshot())  # fmt: skip
    panel = client.get(reverse("lab-panel", args=["basic-block"])).content.decode()
    assert 'hx-trigger="load delay:1s"' in panel  # polls again, soon while it is young
    assert panel.count("<progress ") == 4
    assert 'max="150" value="30" data-state="running"' in panel
    assert "step 30 of 150" in panel and "waiting" in panel
    assert 'id="lab-data"' in panel and 'id="lab-loss"' in panel and "grow as" in panel
    assert "What this run shows" not in panel  # no finding from partial curves
