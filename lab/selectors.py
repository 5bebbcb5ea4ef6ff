"""What other apps may read of the lab: a learner's own finished curves, as plain data.

The mock interview's paper-discussion opening (interviews/) shows the 20- versus 56-layer
training curves; where the learner has run the lab, it shows theirs. Only this module is
imported from outside (tests/test_architecture.py holds interviews to it).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from lab.models import LabRun


def lab_latest_curves(*, user: AbstractBaseUser) -> dict[str, Any] | None:
    """The training curves of the learner's latest finished lab run, plain and residual
    networks at each depth it ran (failed networks left out), or None without one."""
    run = (
        LabRun.objects.filter(user=user, status=LabRun.Status.DONE)
        .order_by("-finished_at", "-id")
        .first()
    )
    if run is None:
        return None
    networks = [
        {key: net[key] for key in ("kind", "layers", "train_loss", "train_error")}
        for net in run.result.get("networks", [])
        if not net.get("error") and net.get("train_error")
    ]
    if not networks:
        return None
    return {
        "run": run.pk,
        "exercise": run.exercise,
        "seed": run.settings.get("seed"),
        "steps": run.settings.get("steps"),
        "every": run.settings.get("every"),
        "device": run.device,
        "depths": sorted({net["layers"] for net in networks}),
        "networks": networks,
    }
