"""Accounts: sign-up, log-in, the learner's settings (time zone) and API tokens.

Dependency direction: `accounts` imports no other app of ours; only Django's auth. Every
other app may read it (`grading` authenticates API calls with its tokens, `learning` and
`interviews` read the learner's time zone), never the reverse.
"""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Accounts"
