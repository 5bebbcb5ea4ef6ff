"""The Celery application: JSON only, one message in flight per worker process."""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("resnet_prep")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    # The database holds every outcome; no result backend to keep in step.
    task_ignore_result=True,
    # A grading takes seconds: a worker should not sit on messages another could run.
    worker_prefetch_multiplier=1,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # The sweeper has a queue of its own, so that it never waits behind gradings.
    task_queues=[Queue("grade.cpu"), Queue("grade.gpu"), Queue("grade.sweep")],
    task_routes={"grading.sweep_submissions": {"queue": "grade.sweep"}},
    task_default_queue="grade.cpu",
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
app.autodiscover_tasks()
