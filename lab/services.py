"""Starting, running and reading lab runs.

The learner's code is untrusted: the whole run happens in the sandbox (lab/harness.py),
with the lab's own limits. In go numpy arrays (the digits data set) and a JSON plan; out
comes one framed JSON document of raw numbers (curves, gradient norms), parsed here with
the same bounds as a grading's frame. Nothing is pickled; nothing from the sandbox is
executed or trusted beyond being numbers, and what the page concludes from them is
computed here (`findings`). While it runs, short progress records come on the same
stdout; lab/progress.py reads them with bounds into partial curves, which a thread of the
worker stores on the LabRun every few seconds for the page to draw.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import io
import json
import logging
import math
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

import sandbox
from grading.models import Submission
from lab.models import LabRun
from lab.progress import LabProgress

log = logging.getLogger(__name__)

HARNESS = Path(__file__).resolve().parent / "harness.py"
# The exercises whose block the lab can stack, and the class each one defines.
BLOCKS = {"basic-block": "BasicBlock", "preact-block": "PreActBlock"}
MAX_FRAME_BYTES = 4 * 1024 * 1024


class LabRefused(ValueError):
    """The lab cannot start as asked; str() tells the learner why."""


def lab_defaults() -> dict[str, Any]:
    """Depths and budget for this host: the paper's 20 and 56 layers everywhere. On a CPU
    the budget is what finishes within 90 s on two cores with room to spare: 300 steps
    took 80 s for the four networks in the Docker sandbox (one thread, idle machine), 200
    take 70 s and still show the degradation for every seed tried. A GPU worker
    trains three times as long. LAB_SETTINGS (a deployment's or a test's) replaces some
    of them."""
    if settings.GRADING_GPU:
        base = {"ns": [3, 9], "steps": 600, "batch": 128, "lr": 0.05, "every": 20}
    else:
        base = {"ns": [3, 9], "steps": CPU_STEPS, "batch": 64, "lr": 0.05, "every": 10}
    return {**base, **{k: v for k, v in settings.LAB_SETTINGS.items() if k in base}}


CPU_STEPS = 200


# The harness's exit status when a CUDA lab finds no usable GPU in its sandbox (before
# any of the learner's code runs): the page then blames our side, not the block.
NO_CUDA_EXIT = 3


def lab_limits(*, device: str = "cpu") -> sandbox.Limits:
    """The lab's sandbox limits; a "cuda" lab gets this worker's GPUs (all of the host's
    where the worker names none), as a grading's device tests do."""
    gpus = "none"
    if device == "cuda":
        gpus = settings.SANDBOX_GPUS if settings.SANDBOX_GPUS != "none" else "all"
    return sandbox.Limits(
        wall_s=float(settings.LAB_WALL_S),
        memory_mb=int(settings.LAB_MEMORY_MB),
        pids=64,
        # The final frame plus up to a few thousand progress records of ~150 bytes.
        output_bytes=1024 * 1024,
        gpus=gpus,
    )


@functools.cache
def digits() -> dict[str, np.ndarray]:
    """scikit-learn's handwritten digits (1,797 images of 8x8, in the package itself):
    real images, small enough to train 56-layer networks on a CPU in minutes. A fixed
    split: 1,400 to train on, 397 held out."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.images / 16.0).astype(np.float32)[:, None]
    y = data.target.astype(np.int64)
    order = np.random.default_rng(2015).permutation(len(y))
    train, test = order[:1400], order[1400:]
    return {"x_train": x[train], "y_train": y[train], "x_test": x[test], "y_test": y[test]}


def lab_passing_code(*, user: AbstractBaseUser, exercise: str) -> str | None:
    """The learner's latest graded submission of this exercise that passed, if any."""
    return (
        Submission.objects.filter(
            user=user, exercise=exercise, kind=Submission.Kind.SUBMIT, status="passed"
        )
        .order_by("-created_at", "-id")
        .values_list("code", flat=True)
        .first()
    )


def lab_start(
    *, user: AbstractBaseUser, exercise: str, seed: int | None = None, enqueue: bool = True
) -> LabRun:
    """Queue a lab on the learner's passing block; one active lab per learner."""
    if exercise not in BLOCKS:
        raise LabRefused(
            "The lab stacks residual blocks: it runs for basic-block and preact-block."
        )
    code = lab_passing_code(user=user, exercise=exercise)
    if code is None:
        raise LabRefused("Pass the graded tests of this exercise first: the lab uses that code.")
    with transaction.atomic():
        if LabRun.objects.select_for_update().filter(user=user, status__in=LabRun.ACTIVE).exists():
            raise LabRefused("A lab of yours is already running; wait for it or cancel it.")
        run = LabRun.objects.create(
            user=user,
            exercise=exercise,
            code=code,
            settings={**lab_defaults(), "seed": secrets.randbelow(10**6) if seed is None else seed},
            device="cuda" if settings.GRADING_GPU else "cpu",
        )
        if enqueue:
            transaction.on_commit(lambda: _send(run.pk))
    return run


def _send(run_id: int) -> None:
    from config.celery_app import app

    # By name: tasks import services, never the reverse. Low priority, its own queue, so a
    # lab never waits in front of a grading.
    queue = "grade.gpu" if settings.GRADING_GPU else "lab.cpu"
    app.send_task("lab.run_lab", args=[run_id], queue=queue)


def lab_cancel(*, user: AbstractBaseUser, run_id: int) -> bool:
    return bool(
        LabRun.objects.filter(pk=run_id, user=user, status__in=LabRun.ACTIVE).update(
            status=LabRun.Status.CANCELLED, finished_at=timezone.now()
        )
    )


def lab_execute(
    *,
    code: str,
    exercise: str,
    settings_: dict,
    backend: str = "auto",
    image: str | None = None,
    progress: LabProgress | None = None,
    device: str = "cpu",
    cancel: threading.Event | None = None,
) -> tuple[dict | None, str, float]:
    """Run one lab in the sandbox: (raw result or None, what went wrong, wall seconds).
    With `progress`, the harness's progress records are fed to it as they come. A "cuda"
    lab trains on the sandbox's GPU and fails (never falls back to the CPU) without one.
    Setting `cancel` stops the sandbox within a fraction of a second."""
    nonce = secrets.token_hex(16)
    buffer = io.BytesIO()
    np.savez(buffer, **digits())
    plan = {**settings_, "nonce": nonce, "block": BLOCKS[exercise], "classes": 10}
    plan["device"] = device
    limits = lab_limits(device=device)
    if progress is not None:
        plan["progress"] = progress.token
    job = sandbox.Job(
        files={
            "solution.py": code.encode(),
            "harness.py": HARNESS.read_bytes(),
            "plan.json": json.dumps(plan).encode(),
            "data.npz": buffer.getvalue(),
        },
        command=["python", "-I", "-B", "harness.py"],
        env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
        on_stdout=progress.feed if progress is not None else None,
        cancel=cancel,
    )
    try:
        result = sandbox.run(job, limits, backend=backend, image=image)
    except sandbox.SandboxUnavailable as exc:
        return None, f"No sandbox is available: {exc}", 0.0
    if result.status == sandbox.Status.CANCELLED:
        return None, "The lab was cancelled.", result.wall_s
    if result.status == sandbox.Status.TIMEOUT:
        return None, f"The lab ran past its {limits.wall_s:g} s limit.", result.wall_s
    if result.status == sandbox.Status.MEMORY_LIMIT:
        return None, f"The lab went past its {limits.memory_mb} MB memory limit.", result.wall_s
    if result.status == sandbox.Status.SANDBOX_ERROR:
        return None, "The sandbox failed (our fault, not your code).", result.wall_s
    parsed = parse_lab_frame(result.stdout, nonce)
    if parsed is None and result.exit_code == NO_CUDA_EXIT:
        return (
            None,
            "This worker's GPU could not be used (our side); run the lab again.",
            result.wall_s,
        )
    if parsed is None:
        tail = result.stderr[-1500:].decode("utf-8", "replace").replace("\x00", "\u2400")
        return None, f"Your block raised before the lab could run:\n{tail}", result.wall_s
    return parsed, "", result.wall_s


def parse_lab_frame(stdout: bytes, nonce: str) -> dict | None:
    """The lab's numbers, checked for shape; None when malformed or absent."""
    from grading.compare import json_shape_ok

    token = nonce.encode()
    if stdout.count(token) != 2:
        return None
    start = stdout.index(token) + len(token)
    body = stdout[start : stdout.index(token, start)]
    if len(body) > MAX_FRAME_BYTES or not (body.startswith(b":") and body.endswith(b":")):
        return None
    try:
        raw = base64.b64decode(body[1:-1], validate=True)
        if not json_shape_ok(raw):
            return None
        data = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        return None
    networks = data.get("networks") if isinstance(data, dict) else None
    if not isinstance(networks, list) or len(networks) > 16:
        return None
    clean = []
    for net in networks:
        if not isinstance(net, dict) or net.get("kind") not in ("plain", "residual"):
            return None
        item = {"kind": net["kind"], "layers": _int(net.get("layers")),
                "error": str(net.get("error", ""))[:400]}  # fmt: skip
        for key in ("grad_norms", "train_loss", "train_error"):
            item[key] = [_float(v) for v in net.get(key, [])][:2000]
        item["test_error"] = _float(net.get("test_error"))
        item["seconds"] = _float(net.get("seconds"))
        clean.append(item)
    return {"networks": clean}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None  # missing, or a diverged run's nan/inf (shown as a gap)


def lab_run(*, run_id: int) -> LabRun | None:
    """The worker's side: claim the run, execute it, store what came back."""
    claimed = LabRun.objects.filter(pk=run_id, status=LabRun.Status.QUEUED).update(
        status=LabRun.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None
    run = LabRun.objects.get(pk=run_id)
    progress = LabProgress(run.settings)
    cancel = threading.Event()
    with storing_progress(
        run_id, progress, every_s=float(settings.LAB_PROGRESS_EVERY_S), cancel=cancel
    ):
        result, problem, wall = lab_execute(
            code=run.code,
            exercise=run.exercise,
            settings_=run.settings,
            backend=settings.SANDBOX_BACKEND,
            image=settings.SANDBOX_IMAGE or None,
            progress=progress,
            device=run.device,
            cancel=cancel,
        )
    LabRun.objects.filter(pk=run_id, status=LabRun.Status.RUNNING).update(
        status=LabRun.Status.DONE if result is not None else LabRun.Status.FAILED,
        result=result or {},
        detail=problem,
        wall_s=wall,
        finished_at=timezone.now(),
    )
    run.refresh_from_db()
    return run


@contextlib.contextmanager
def storing_progress(
    run_id: int,
    progress: LabProgress,
    *,
    every_s: float,
    cancel: threading.Event | None = None,
) -> Iterator[None]:
    """While the block runs, a thread stores the partial curves on the run every `every_s`
    seconds when they changed, and once more at the end (on its own DB connection). Each
    time it also looks whether the run is still RUNNING: once the learner cancelled it (or
    anything else ended it) it sets `cancel`, which stops the sandbox."""
    stop = threading.Event()

    def store() -> None:
        from django.db import connection

        stored = 0
        try:
            while True:
                stopping = stop.wait(every_s)
                updated = False
                if progress.version != stored:
                    stored = progress.version
                    updated = bool(
                        LabRun.objects.filter(pk=run_id, status=LabRun.Status.RUNNING).update(
                            progress=progress.snapshot()
                        )
                    )
                if not updated and not stopping and _ended(run_id):
                    if cancel is not None:
                        cancel.set()
                    return
                if stopping:
                    return
        except Exception:
            log.exception("lab %s: progress not stored", run_id)
        finally:
            connection.close()

    thread = threading.Thread(target=store, daemon=True, name=f"lab-progress-{run_id}")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def _ended(run_id: int) -> bool:
    """Whether the run's row says it is no longer running (cancelled, say)."""
    status = LabRun.objects.filter(pk=run_id).values_list("status", flat=True).first()
    return status is not None and status != LabRun.Status.RUNNING


def _final(values: list[float | None]) -> float | None:
    tail = [v for v in values[-3:] if v is not None]
    return sum(tail) / len(tail) if tail else None


def _spread(norms: list[float | None]) -> float | None:
    values = [v for v in norms if v]
    return max(values) / min(values) if values else None


def findings(result: dict) -> dict[str, Any]:
    """What the page may say, decided here from the raw curves of this run.

    `degradation`: the deepest plain network ends with a clearly higher training loss than
    the shallowest (by half again plus 0.05), while the deepest residual one ends clearly
    below that plain one. `gradients`: the spread of gradient norms across blocks (largest
    over smallest) grows more with depth for plain networks than for residual ones. Each
    is None when this run lacks what it needs (a network failed), so the page says so
    instead of claiming it.
    """
    nets = {(n["kind"], n["layers"]): n for n in result.get("networks", []) if not n["error"]}
    depths = sorted({layers for _, layers in nets})
    out: dict[str, Any] = {"depths": depths, "degradation": None, "gradients": None}
    if len(depths) < 2:
        return out
    low, high = depths[0], depths[-1]
    keys = [("plain", low), ("plain", high), ("residual", low), ("residual", high)]
    if not all(k in nets for k in keys):
        return out
    plain_low, plain_high = (_final(nets[("plain", d)]["train_loss"]) for d in (low, high))
    res_high = _final(nets[("residual", high)]["train_loss"])
    if None not in (plain_low, plain_high, res_high):
        out["degradation"] = bool(
            plain_high > 1.5 * plain_low + 0.05 and res_high < 0.5 * plain_high
        )
        out["final_loss"] = {"plain": [plain_low, plain_high], "residual_deep": res_high}
    spreads = {k: _spread(nets[k]["grad_norms"]) for k in keys}
    if None not in spreads.values():
        plain_growth = spreads[("plain", high)] / spreads[("plain", low)]
        res_growth = spreads[("residual", high)] / spreads[("residual", low)]
        out["gradients"] = bool(plain_growth > res_growth)
        out["spread"] = {f"{k}-{d}": round(v, 2) for (k, d), v in spreads.items()}
    return out
