"""Mock interviews: timed attempts at a mock script, their answers, and the self-review.

Dependency direction: `interviews` reads the content (`quizbank`: scripts, steps, items),
the learner's time zone (`accounts`) and ticks the review plan through `learning`'s
services when an attempt ends; the implementation round grades code through `grading`'s
services (interviews/coding.py); the paper discussion's figure reads the learner's own
lab curves through `lab.selectors` only. No other app imports `interviews`.
"""

from django.apps import AppConfig


class InterviewsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "interviews"
    verbose_name = "Mock interviews"
