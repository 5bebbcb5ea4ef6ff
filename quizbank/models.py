"""Content of the quiz bank, loaded from quizbank/content/ by slug.

Content rows are never deleted by the loader: an item removed from the files is marked
`retired`, so a learner's history that points at it survives.
"""

from __future__ import annotations

from django.db import models


class Chapter(models.Model):
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    version = models.CharField(max_length=40, help_text="content version from chapter.yaml")
    content_hash = models.CharField(max_length=64, blank=True)
    loaded_at = models.DateTimeField(null=True, blank=True)
    retired = models.BooleanField(default=False)
    # Bumped in the same transaction as any change to the bank's structure (quizbank/
    # revision.py): pages that keep the plan's days, tasks and items in memory between
    # requests compare it with the row they read anyway, so no process serves an edit late.
    revision = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.title


class Part(models.Model):
    """A part of the chapter (degradation problem, bottleneck, SE, ...)."""

    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="parts")
    slug = models.SlugField()
    title = models.CharField(max_length=200)
    order = models.PositiveIntegerField(default=0)
    retired = models.BooleanField(default=False)

    class Meta:
        ordering = ["chapter", "order"]
        constraints = [models.UniqueConstraint(fields=["chapter", "slug"], name="part_unique_slug")]

    def __str__(self) -> str:
        return self.title


class Skill(models.Model):
    """One of the chapter's self-assessment skills, rated 1-5 by the learner."""

    SCALE = [
        (1, "Cannot"),
        (2, "Vaguely"),
        (3, "Can Explain"),
        (4, "Can Derive"),
        (5, "Can Teach"),
    ]
    TARGET = 4  # the chapter's target: every skill at 4 or 5

    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="skills")
    slug = models.SlugField()
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0)
    parts = models.ManyToManyField(Part, blank=True, related_name="skills")
    retired = models.BooleanField(default=False)

    class Meta:
        ordering = ["chapter", "order"]
        constraints = [
            models.UniqueConstraint(fields=["chapter", "slug"], name="skill_unique_slug")
        ]

    def __str__(self) -> str:
        return self.title


class Item(models.Model):
    """A question. `kind` decides which of the kind-specific fields are used."""

    class Kind(models.TextChoices):
        MULTIPLE_CHOICE = "multiple_choice", "Multiple choice"
        NUMERIC = "numeric", "Numeric"
        FREE_TEXT = "free_text", "Free text"
        ORDERING = "ordering", "Ordering"

    class ToleranceMode(models.TextChoices):
        ABSOLUTE = "absolute", "Absolute"
        RELATIVE = "relative", "Relative"

    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="items")
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="items")
    slug = models.SlugField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    prompt = models.TextField(help_text="Markdown with LaTeX between $...$ or $$...$$")
    explanation = models.TextField(blank=True, help_text="shown after answering")
    cheat_sheet = models.BooleanField(default=False, help_text="one of the cheat-sheet questions")
    # 1 recall a fact or definition, 2 explain or apply it, 3 interview depth (derive,
    # compare, defend a number). Practice and the plan go from 1 to 3.
    difficulty = models.PositiveSmallIntegerField(
        default=2, help_text="1 recall, 2 explain or apply, 3 interview depth"
    )
    order = models.PositiveIntegerField(default=0)
    tags = models.JSONField(default=list, blank=True)
    # numeric
    answer_number = models.FloatField(null=True, blank=True)
    tolerance = models.FloatField(null=True, blank=True)
    tolerance_mode = models.CharField(
        max_length=10, choices=ToleranceMode.choices, default=ToleranceMode.RELATIVE
    )
    unit = models.CharField(max_length=60, blank=True)
    protocol = models.CharField(
        max_length=200, blank=True, help_text="for error rates: 10-crop, 1-crop, CIFAR batch"
    )
    # free text
    model_answer = models.TextField(blank=True)
    traps = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"phrase": ..., "why": ...}] instant-rejection answers',
    )
    # ordering: other defensible orders, each a list of the steps' 1-based positions in
    # the canonical order ([1, 3, 2, 4] accepts steps 2 and 3 swapped)
    accepted_orders = models.JSONField(default=list, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    retired = models.BooleanField(default=False)

    class Meta:
        ordering = ["chapter", "part__order", "order"]
        constraints = [models.UniqueConstraint(fields=["chapter", "slug"], name="item_unique_slug")]

    def __str__(self) -> str:
        return self.slug


class Choice(models.Model):
    """An option of a multiple-choice item, or a step of an ordering item.

    For ordering items `order` is the correct position; the page shuffles them.
    """

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="choices")
    order = models.PositiveIntegerField(default=0)
    text = models.TextField()
    correct = models.BooleanField(default=False)
    why = models.TextField(blank=True, help_text="why this option is right or wrong")

    class Meta:
        ordering = ["item", "order"]

    def __str__(self) -> str:
        return self.text[:60]


class RubricPoint(models.Model):
    """A point a good free-text answer covers; keywords pre-tick it."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="rubric")
    order = models.PositiveIntegerField(default=0)
    text = models.TextField()
    keywords = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["item", "order"]

    def __str__(self) -> str:
        return self.text[:60]


class Problem(models.Model):
    """A practice problem with progressive hints and a worked solution."""

    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="problems")
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="problems")
    slug = models.SlugField(max_length=120)
    title = models.CharField(max_length=200)
    statement = models.TextField()
    solution = models.TextField()
    order = models.PositiveIntegerField(default=0)
    content_hash = models.CharField(max_length=64, blank=True)
    retired = models.BooleanField(default=False)

    class Meta:
        ordering = ["chapter", "order"]
        constraints = [
            models.UniqueConstraint(fields=["chapter", "slug"], name="problem_unique_slug")
        ]

    def __str__(self) -> str:
        return self.title


class Hint(models.Model):
    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="hints")
    order = models.PositiveIntegerField(default=0)
    text = models.TextField()

    class Meta:
        ordering = ["problem", "order"]

    def __str__(self) -> str:
        return self.text[:60]


class ExerciseStatement(models.Model):
    """The statement of an implementation exercise; grading/ holds its tests by slug."""

    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="exercises")
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="exercises")
    slug = models.SlugField(max_length=120)
    title = models.CharField(max_length=200)
    statement = models.TextField()
    order = models.PositiveIntegerField(default=0)
    content_hash = models.CharField(max_length=64, blank=True)
    retired = models.BooleanField(default=False)

    class Meta:
        ordering = ["chapter", "order"]
        constraints = [
            models.UniqueConstraint(fields=["chapter", "slug"], name="exercise_unique_slug")
        ]

    def __str__(self) -> str:
        return self.title


class MockScript(models.Model):
    """A mock interview: an ordered list of questions (items) under one clock."""

    class Kind(models.TextChoices):
        RAPID_FIRE = "rapid_fire", "Rapid-fire cheat sheet"
        PAPER_DISCUSSION = "paper_discussion", "Paper discussion"
        IMPLEMENTATION = "implementation", "Implementation round"

    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="mocks")
    slug = models.SlugField(max_length=120)
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    intro = models.TextField(blank=True)
    duration_s = models.PositiveIntegerField()
    order = models.PositiveIntegerField(default=0)
    content_hash = models.CharField(max_length=64, blank=True)
    retired = models.BooleanField(default=False)

    class Meta:
        ordering = ["chapter", "order"]
        constraints = [models.UniqueConstraint(fields=["chapter", "slug"], name="mock_unique_slug")]

    def __str__(self) -> str:
        return self.title


class MockStep(models.Model):
    script = models.ForeignKey(MockScript, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveIntegerField(default=0)
    item = models.ForeignKey(Item, on_delete=models.PROTECT, null=True, blank=True)
    exercise = models.ForeignKey(ExerciseStatement, on_delete=models.PROTECT, null=True, blank=True)
    interviewer_note = models.TextField(blank=True, help_text="what the interviewer probes")

    class Meta:
        ordering = ["script", "order"]

    def __str__(self) -> str:
        return f"{self.script.slug} #{self.order}"


class ReviewDay(models.Model):
    """A checkpoint of the review plan: Day 0, 3, 7, 14 or 21."""

    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="review_days")
    day = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    retired = models.BooleanField(default=False)

    class Meta:
        ordering = ["chapter", "day"]
        constraints = [models.UniqueConstraint(fields=["chapter", "day"], name="review_day_unique")]

    def __str__(self) -> str:
        return f"Day {self.day}: {self.title}"


class ReviewTask(models.Model):
    """One of a checkpoint's tasks and what practises it."""

    class Kind(models.TextChoices):
        ITEMS = "items", "Review cards"
        PROBLEM = "problem", "Practice problem"
        EXERCISE = "exercise", "Implementation exercise"
        MOCK = "mock", "Mock interview"
        MANUAL = "manual", "Done by hand (confirm)"

    review_day = models.ForeignKey(ReviewDay, on_delete=models.CASCADE, related_name="tasks")
    slug = models.SlugField(max_length=120)
    order = models.PositiveIntegerField(default=0)
    title = models.CharField(max_length=300)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    items = models.ManyToManyField(Item, blank=True, related_name="review_tasks")
    problem = models.ForeignKey(Problem, on_delete=models.PROTECT, null=True, blank=True)
    exercise = models.ForeignKey(ExerciseStatement, on_delete=models.PROTECT, null=True, blank=True)
    mock = models.ForeignKey(MockScript, on_delete=models.PROTECT, null=True, blank=True)
    # A problem or exercise task may name several (`problems: [...]` in YAML): the first
    # is `problem` / `exercise`, the others are here; the task is done when all are.
    also_problems = models.ManyToManyField(Problem, blank=True, related_name="+")
    also_exercises = models.ManyToManyField(ExerciseStatement, blank=True, related_name="+")
    retired = models.BooleanField(default=False)

    class Meta:
        ordering = ["review_day", "order"]
        constraints = [
            models.UniqueConstraint(fields=["review_day", "slug"], name="review_task_unique")
        ]

    def __str__(self) -> str:
        return self.title

    def named_problems(self) -> list[Problem]:
        return ([self.problem] if self.problem else []) + list(self.also_problems.all())

    def named_exercises(self) -> list[ExerciseStatement]:
        return ([self.exercise] if self.exercise else []) + list(self.also_exercises.all())
