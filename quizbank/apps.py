from django.apps import AppConfig


class QuizbankConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "quizbank"
    verbose_name = "Quiz bank and learning"
