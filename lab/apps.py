"""The lab: a learner's own block trained deep, plain against residual.

Depends on: grading (the learner's passing submission, the sandbox limits' settings) and
sandbox (where the run happens). Nothing imports lab except config (URLs, settings).
"""

from django.apps import AppConfig


class LabConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "lab"
    verbose_name = "Lab"
