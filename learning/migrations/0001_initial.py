# Moves the learner's state (skill snapshots and ratings, plans and their completed tasks,
# FSRS cards, the review log, solved problems) from quizbank into this app without
# touching their tables: the state gains the models here while quizbank 0006 drops them
# from its own; the rows stay where they are.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MOVED = [
    ("quizbank", "skillratingsnapshot"),
    ("quizbank", "skillrating"),
    ("quizbank", "learnerplan"),
    ("quizbank", "taskcompletion"),
    ("quizbank", "learnercard"),
    ("quizbank", "reviewlogentry"),
    ("quizbank", "problemsolve"),
]


def _relabel(apps, old_to_new):
    # Keeps content type ids, and with them staff permissions and admin log entries.
    ContentType = apps.get_model("contenttypes", "ContentType")
    for (old_app, model), new_app in old_to_new:
        if not ContentType.objects.filter(app_label=new_app, model=model).exists():
            ContentType.objects.filter(app_label=old_app, model=model).update(app_label=new_app)


def content_types_forward(apps, schema_editor):
    _relabel(apps, [((old_app, model), "learning") for old_app, model in MOVED])


def content_types_backward(apps, schema_editor):
    _relabel(apps, [(("learning", model), old_app) for old_app, model in MOVED])


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("quizbank", "0005_mock_attempts_to_interviews"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="LearnerPlan",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "started_on",
                            models.DateField(help_text="Day 0, a date in the learner's time zone"),
                        ),
                        ("started_at", models.DateTimeField()),
                        (
                            "time_zone",
                            models.CharField(
                                help_text="the learner's zone when started", max_length=64
                            ),
                        ),
                        ("active", models.BooleanField(default=True)),
                        ("ended_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "chapter",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="quizbank.chapter",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="plans",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "quizbank_learnerplan",
                        "ordering": ["user", "-started_at"],
                    },
                ),
                migrations.CreateModel(
                    name="ProblemSolve",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("solved_at", models.DateTimeField()),
                        ("hints_seen", models.PositiveSmallIntegerField(default=0)),
                        ("saw_solution", models.BooleanField(default=False)),
                        (
                            "problem",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="quizbank.problem",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="problem_solves",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "quizbank_problemsolve",
                        "ordering": ["user", "solved_at"],
                    },
                ),
                migrations.CreateModel(
                    name="ReviewLogEntry",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "rating",
                            models.PositiveSmallIntegerField(
                                choices=[(1, "Again"), (2, "Hard"), (3, "Good"), (4, "Easy")]
                            ),
                        ),
                        ("reviewed_at", models.DateTimeField()),
                        ("duration_ms", models.PositiveIntegerField(blank=True, null=True)),
                        (
                            "source",
                            models.CharField(
                                choices=[
                                    ("plan", "Plan checkpoint"),
                                    ("due", "Due card"),
                                    ("practice", "Practice"),
                                ],
                                max_length=10,
                            ),
                        ),
                        (
                            "counted",
                            models.BooleanField(
                                help_text="whether this review moved the FSRS card"
                            ),
                        ),
                        (
                            "correct",
                            models.BooleanField(
                                blank=True, help_text="auto-graded kinds only", null=True
                            ),
                        ),
                        (
                            "answer",
                            models.JSONField(
                                blank=True, default=dict, help_text="what the learner gave"
                            ),
                        ),
                        (
                            "card_before",
                            models.JSONField(
                                blank=True,
                                help_text="the FSRS card before this review, to allow re-rating",
                                null=True,
                            ),
                        ),
                        (
                            "item",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="quizbank.item",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="review_logs",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "quizbank_reviewlogentry",
                        "ordering": ["user", "reviewed_at"],
                    },
                ),
                migrations.CreateModel(
                    name="SkillRatingSnapshot",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("taken_at", models.DateTimeField(db_index=True)),
                        (
                            "chapter",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="quizbank.chapter",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="skill_snapshots",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "quizbank_skillratingsnapshot",
                        "ordering": ["user", "taken_at"],
                    },
                ),
                migrations.CreateModel(
                    name="SkillRating",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "score",
                            models.PositiveSmallIntegerField(
                                choices=[
                                    (1, "Cannot"),
                                    (2, "Vaguely"),
                                    (3, "Can Explain"),
                                    (4, "Can Derive"),
                                    (5, "Can Teach"),
                                ]
                            ),
                        ),
                        (
                            "skill",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="quizbank.skill",
                            ),
                        ),
                        (
                            "snapshot",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="ratings",
                                to="learning.skillratingsnapshot",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "quizbank_skillrating",
                        "ordering": ["snapshot", "skill__order"],
                    },
                ),
                migrations.CreateModel(
                    name="TaskCompletion",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("completed_at", models.DateTimeField()),
                        (
                            "how",
                            models.CharField(
                                choices=[
                                    ("auto", "Done by practising"),
                                    ("manual", "Confirmed by hand"),
                                ],
                                max_length=10,
                            ),
                        ),
                        (
                            "plan",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="completions",
                                to="learning.learnerplan",
                            ),
                        ),
                        (
                            "task",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="quizbank.reviewtask",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "quizbank_taskcompletion",
                        "ordering": ["plan", "completed_at"],
                    },
                ),
                migrations.CreateModel(
                    name="LearnerCard",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("state", models.JSONField()),
                        ("due", models.DateTimeField(db_index=True)),
                        ("reps", models.PositiveIntegerField(default=0)),
                        ("lapses", models.PositiveIntegerField(default=0)),
                        ("created_at", models.DateTimeField()),
                        ("updated_at", models.DateTimeField()),
                        (
                            "item",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="quizbank.item",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="cards",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "quizbank_learnercard",
                        "ordering": ["user", "due"],
                        "indexes": [models.Index(fields=["user", "due"], name="card_user_due")],
                        "constraints": [
                            models.UniqueConstraint(fields=("user", "item"), name="card_unique")
                        ],
                    },
                ),
                migrations.AddConstraint(
                    model_name="learnerplan",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("active", True)),
                        fields=("user", "chapter"),
                        name="one_active_plan_per_chapter",
                    ),
                ),
                migrations.AddIndex(
                    model_name="reviewlogentry",
                    index=models.Index(fields=["user", "reviewed_at"], name="review_user_time"),
                ),
                migrations.AddIndex(
                    model_name="reviewlogentry",
                    index=models.Index(
                        fields=["user", "item", "reviewed_at"], name="review_user_item_time"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="skillrating",
                    constraint=models.UniqueConstraint(
                        fields=("snapshot", "skill"), name="skill_rating_unique"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="skillrating",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("score__gte", 1), ("score__lte", 5)),
                        name="skill_rating_1_to_5",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="taskcompletion",
                    constraint=models.UniqueConstraint(
                        fields=("plan", "task"), name="task_completion_unique"
                    ),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_forward, content_types_backward),
    ]
