"""Quiz bank: the content only: chapters, parts, skills, items, problems, exercise
statements, mock scripts and the review plan's days and tasks, loaded from the YAML
under quizbank/content/ (loader, validation, LaTeX and figure checks, `load_quizbank`).

Dependency direction: `quizbank` imports no other app of ours. `learning`, `interviews`
and `grading` read it; it never reads a learner's state.
"""

from django.apps import AppConfig


class QuizbankConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "quizbank"
    verbose_name = "Quiz bank"

    def ready(self) -> None:
        from quizbank.revision import revision_connect

        revision_connect()
