"""A learner's own state: self-assessment, the review plan, FSRS cards and their log.

The tables keep the names they had when these models lived in quizbank (db_table), so
databases made before the split migrate without copying rows.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from quizbank.models import Chapter, Item, Problem, ReviewTask, Skill


class SkillRatingSnapshot(models.Model):
    """One sitting of the self-assessment; history is kept, the latest one counts."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="skill_snapshots"
    )
    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="+")
    taken_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "quizbank_skillratingsnapshot"
        ordering = ["user", "taken_at"]

    def __str__(self) -> str:
        return f"skills of {self.user} at {self.taken_at:%Y-%m-%d %H:%M}"


class SkillRating(models.Model):
    snapshot = models.ForeignKey(
        SkillRatingSnapshot, on_delete=models.CASCADE, related_name="ratings"
    )
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="+")
    score = models.PositiveSmallIntegerField(choices=Skill.SCALE)

    class Meta:
        db_table = "quizbank_skillrating"
        ordering = ["snapshot", "skill__order"]
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "skill"], name="skill_rating_unique"),
            models.CheckConstraint(
                condition=models.Q(score__gte=1, score__lte=5), name="skill_rating_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.skill.slug}: {self.score}"


class LearnerPlan(models.Model):
    """A run of the Day 0-21 plan. Restarting deactivates it; its rows stay as history."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="plans"
    )
    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="+")
    started_on = models.DateField(help_text="Day 0, a date in the learner's time zone")
    started_at = models.DateTimeField()
    time_zone = models.CharField(max_length=64, help_text="the learner's zone when started")
    active = models.BooleanField(default=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "quizbank_learnerplan"
        ordering = ["user", "-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "chapter"],
                condition=models.Q(active=True),
                name="one_active_plan_per_chapter",
            )
        ]

    def __str__(self) -> str:
        return f"plan of {self.user} from {self.started_on}"


class TaskCompletion(models.Model):
    class How(models.TextChoices):
        AUTO = "auto", "Done by practising"
        MANUAL = "manual", "Confirmed by hand"

    plan = models.ForeignKey(LearnerPlan, on_delete=models.CASCADE, related_name="completions")
    task = models.ForeignKey(ReviewTask, on_delete=models.PROTECT, related_name="+")
    completed_at = models.DateTimeField()
    how = models.CharField(max_length=10, choices=How.choices)

    class Meta:
        db_table = "quizbank_taskcompletion"
        ordering = ["plan", "completed_at"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "task"], name="task_completion_unique")
        ]

    def __str__(self) -> str:
        return f"{self.task.slug} done ({self.how})"


class LearnerCard(models.Model):
    """A learner's FSRS card for one item: `state` is fsrs.Card.to_dict(), `due` mirrors it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cards"
    )
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    state = models.JSONField()
    due = models.DateTimeField(db_index=True)
    reps = models.PositiveIntegerField(default=0)
    lapses = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "quizbank_learnercard"
        ordering = ["user", "due"]
        constraints = [models.UniqueConstraint(fields=["user", "item"], name="card_unique")]
        indexes = [models.Index(fields=["user", "due"], name="card_user_due")]

    def __str__(self) -> str:
        return f"card {self.item.slug} of {self.user}"


class ReviewLogEntry(models.Model):
    """Every answer, whether or not it moved the FSRS card; kept to optimise FSRS later."""

    class Rating(models.IntegerChoices):
        AGAIN = 1, "Again"
        HARD = 2, "Hard"
        GOOD = 3, "Good"
        EASY = 4, "Easy"

    class Source(models.TextChoices):
        PLAN = "plan", "Plan checkpoint"
        DUE = "due", "Due card"
        PRACTICE = "practice", "Practice"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_logs"
    )
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    rating = models.PositiveSmallIntegerField(choices=Rating.choices)
    reviewed_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    counted = models.BooleanField(help_text="whether this review moved the FSRS card")
    correct = models.BooleanField(null=True, blank=True, help_text="auto-graded kinds only")
    answer = models.JSONField(default=dict, blank=True, help_text="what the learner gave")
    card_before = models.JSONField(
        null=True, blank=True, help_text="the FSRS card before this review, to allow re-rating"
    )

    class Meta:
        db_table = "quizbank_reviewlogentry"
        ordering = ["user", "reviewed_at"]
        indexes = [
            models.Index(fields=["user", "reviewed_at"], name="review_user_time"),
            models.Index(fields=["user", "item", "reviewed_at"], name="review_user_item_time"),
        ]

    def __str__(self) -> str:
        return f"{self.item.slug} {self.get_rating_display()} at {self.reviewed_at:%Y-%m-%d %H:%M}"


class ProblemSolve(models.Model):
    """A learner marked a practice problem solved (after hints and the solution if needed)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="problem_solves"
    )
    problem = models.ForeignKey(Problem, on_delete=models.PROTECT, related_name="+")
    solved_at = models.DateTimeField()
    hints_seen = models.PositiveSmallIntegerField(default=0)
    saw_solution = models.BooleanField(default=False)

    class Meta:
        db_table = "quizbank_problemsolve"
        ordering = ["user", "solved_at"]

    def __str__(self) -> str:
        return f"{self.problem.slug} solved by {self.user}"


class CalendarFeed(models.Model):
    """A learner's private calendar subscription: the secret in the feed's URL is the only
    key (calendar apps cannot log in). Regenerating replaces it; revoking deletes the row,
    and the old URL then answers 404 like any unknown one."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"calendar feed of {self.user} since {self.created_at:%Y-%m-%d}"
