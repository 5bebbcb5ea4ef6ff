"""What learning does when another app reports progress."""

from __future__ import annotations

from django.dispatch import receiver

from grading.events import exercise_passed
from learning import services


@receiver(exercise_passed, dispatch_uid="learning.exercise_passed")
def tick_exercise_tasks(sender, *, user, exercise: str, **kwargs) -> None:
    services.plan_record_exercise_passed(user=user, exercise_slug=exercise)
