# Moves LearnerProfile (from quizbank) and ApiToken (from grading) into this app without
# touching their tables: the state gains the models here while quizbank 0004 and grading
# 0002 drop them from theirs; the rows stay where they are.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MOVED = [("quizbank", "learnerprofile"), ("grading", "apitoken")]


def _relabel(apps, old_to_new):
    # Keeps content type ids, and with them staff permissions and admin log entries.
    ContentType = apps.get_model("contenttypes", "ContentType")
    for (old_app, model), new_app in old_to_new:
        if not ContentType.objects.filter(app_label=new_app, model=model).exists():
            ContentType.objects.filter(app_label=old_app, model=model).update(app_label=new_app)


def content_types_forward(apps, schema_editor):
    _relabel(apps, [((old_app, model), "accounts") for old_app, model in MOVED])


def content_types_backward(apps, schema_editor):
    _relabel(apps, [(("accounts", model), old_app) for old_app, model in MOVED])


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("contenttypes", "0002_remove_content_type_name"),
        ("quizbank", "0003_mock_interviews"),
        ("grading", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ApiToken",
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
                        ("name", models.CharField(blank=True, max_length=100)),
                        (
                            "prefix",
                            models.CharField(
                                help_text="first characters, to tell tokens apart", max_length=8
                            ),
                        ),
                        ("key_hash", models.CharField(max_length=64, unique=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("last_used_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="api_tokens",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={"db_table": "grading_apitoken", "ordering": ["-created_at"]},
                ),
                migrations.CreateModel(
                    name="LearnerProfile",
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
                        ("time_zone", models.CharField(default="UTC", max_length=64)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "user",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="profile",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={"db_table": "quizbank_learnerprofile"},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_forward, content_types_backward),
    ]
