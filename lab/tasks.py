"""The lab's Celery task: thin, takes an id, runs on the lab queue (or grade.gpu)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="lab.run_lab", acks_late=False)  # a lab is not retried: rerun by hand
def run_lab(run_id: int) -> str | None:
    from lab.services import lab_run

    run = lab_run(run_id=run_id)
    return run.status if run is not None else None
