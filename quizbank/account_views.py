"""Sign-up and settings. Log in, log out and password change are Django's own views."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import redirect, render

from quizbank.forms import SignUpForm, TimeZoneForm
from quizbank.services import profile_get_or_create, profile_set_time_zone


def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            profile_set_time_zone(user=user, time_zone=form.cleaned_data["time_zone"])
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome! Start by rating your skills.")
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def account_settings(request):
    profile = profile_get_or_create(user=request.user)
    form = TimeZoneForm(request.POST or None, initial={"time_zone": profile.time_zone})
    if request.method == "POST" and form.is_valid():
        profile_set_time_zone(user=request.user, time_zone=form.cleaned_data["time_zone"])
        messages.success(request, "Time zone saved.")
        return redirect("account-settings")
    return render(request, "registration/settings.html", {"form": form, "profile": profile})
