from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib.auth.forms import UserCreationForm


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class SignUpForm(UserCreationForm):
    time_zone = forms.ChoiceField(
        choices=time_zone_choices,
        initial="UTC",
        help_text="Your review days start at midnight in this zone. You can change it later.",
    )

    class Meta(UserCreationForm.Meta):
        fields = ("username",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            # static/js/timezone.js sets a fresh form's zone to the browser's, and says so
            # in the element with this id; a posted form keeps what the learner chose.
            self.fields["time_zone"].widget.attrs["data-detect-zone"] = "time-zone-detected"


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(choices=time_zone_choices)
