from django.apps import AppConfig


class GradingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "grading"
    verbose_name = "Grading"

    def ready(self) -> None:
        from config.celery_app import app
        from grading import signals  # noqa: F401 - connects the worker_ready handler
        from grading.tasks import SWEEP_EVERY_S

        app.conf.beat_schedule = {
            **(app.conf.beat_schedule or {}),
            "grading-sweep": {
                "task": "grading.sweep_submissions",
                "schedule": SWEEP_EVERY_S,
                # On its own queue; a sweep not started within one period is dropped,
                # the next one does the same work.
                "options": {"queue": "grade.sweep", "expires": SWEEP_EVERY_S},
            },
        }
