"""The sign-up form asks the browser for its zone only while it is fresh."""

from __future__ import annotations

from accounts.forms import SignUpForm


def test_only_a_fresh_form_is_marked_for_the_browsers_zone():
    fresh = SignUpForm()
    assert fresh.fields["time_zone"].widget.attrs["data-detect-zone"] == "time-zone-detected"
    assert 'data-detect-zone="time-zone-detected"' in str(fresh["time_zone"])
    posted = SignUpForm({"username": "x", "time_zone": "Europe/Paris"})
    assert "data-detect-zone" not in posted.fields["time_zone"].widget.attrs
    assert fresh.fields["time_zone"].initial == "UTC"  # without JavaScript
