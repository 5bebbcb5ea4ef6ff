# Moves MockAttempt and MockAnswer from quizbank into this app without touching their
# tables: the state gains the models here while quizbank 0005 drops them from its own;
# the rows stay where they are.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MOVED = [("quizbank", "mockattempt"), ("quizbank", "mockanswer")]


def _relabel(apps, old_to_new):
    # Keeps content type ids, and with them staff permissions and admin log entries.
    ContentType = apps.get_model("contenttypes", "ContentType")
    for (old_app, model), new_app in old_to_new:
        if not ContentType.objects.filter(app_label=new_app, model=model).exists():
            ContentType.objects.filter(app_label=old_app, model=model).update(app_label=new_app)


def content_types_forward(apps, schema_editor):
    _relabel(apps, [((old_app, model), "interviews") for old_app, model in MOVED])


def content_types_backward(apps, schema_editor):
    _relabel(apps, [(("interviews", model), old_app) for old_app, model in MOVED])


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("quizbank", "0004_learnerprofile_to_accounts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="MockAttempt",
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
                        ("started_at", models.DateTimeField()),
                        (
                            "time_factor",
                            models.FloatField(default=1.0, help_text="1.0, or more for extra time"),
                        ),
                        ("untimed", models.BooleanField(default=False)),
                        (
                            "deadline",
                            models.DateTimeField(
                                blank=True, help_text="null when untimed", null=True
                            ),
                        ),
                        ("ended_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "end_reason",
                            models.CharField(
                                blank=True,
                                choices=[
                                    ("submitted", "Submitted by the learner"),
                                    ("expired", "Time ran out"),
                                ],
                                max_length=20,
                            ),
                        ),
                        (
                            "script",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="attempts",
                                to="quizbank.mockscript",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="mock_attempts",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "quizbank_mockattempt",
                        "ordering": ["user", "-started_at"],
                    },
                ),
                migrations.CreateModel(
                    name="MockAnswer",
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
                        ("text", models.TextField(blank=True)),
                        ("saved_at", models.DateTimeField()),
                        (
                            "rubric_ticked",
                            models.JSONField(blank=True, default=list, help_text="RubricPoint ids"),
                        ),
                        (
                            "traps_hit",
                            models.JSONField(
                                blank=True, default=list, help_text="trap phrases found"
                            ),
                        ),
                        (
                            "step",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="quizbank.mockstep",
                            ),
                        ),
                        (
                            "attempt",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="answers",
                                to="interviews.mockattempt",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "quizbank_mockanswer",
                        "ordering": ["attempt", "step__order"],
                    },
                ),
                migrations.AddIndex(
                    model_name="mockattempt",
                    index=models.Index(fields=["user", "ended_at"], name="mock_attempt_open"),
                ),
                migrations.AddConstraint(
                    model_name="mockattempt",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("ended_at__isnull", True)),
                        fields=("user", "script"),
                        name="mock_attempt_one_running",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="mockanswer",
                    constraint=models.UniqueConstraint(
                        fields=("attempt", "step"), name="mock_answer_unique"
                    ),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_forward, content_types_backward),
    ]
