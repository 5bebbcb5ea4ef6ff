"""Learning: a learner's own state and pages: self-assessment, the Day 0-21 plan, FSRS
cards and their review log, practice, the dashboard and the exports.

Dependency direction: `learning` reads the content (`quizbank`) and the learner's time
zone (`accounts`). It hears about passed exercises from `grading` only through the
`grading.events.exercise_passed` signal (connected in `ready`), so grading never imports
it. Only `interviews` imports `learning` (to tick mock tasks of the plan).
"""

from django.apps import AppConfig


class LearningConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "learning"
    verbose_name = "Learning"

    def ready(self) -> None:
        from learning import receivers  # noqa: F401 - connects the grading signal
