"""Sign-up, settings and API tokens. Log in, log out and password change are Django's own
views (accounts/urls.py names their templates)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts import services
from accounts.forms import SignUpForm, TimeZoneForm
from accounts.limits import RateLimited, client_ip, rate_hit
from accounts.params import small_int
from accounts.services import profile_get_or_create, profile_set_time_zone


def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            # Counted per address, only for sign-ups that would succeed.
            rate_hit(scope="signup", key=client_ip(request))
        except RateLimited as exc:
            form.add_error(None, f"No account was made. {exc}")
            response = render(request, "accounts/signup.html", {"form": form}, status=429)
            response["Retry-After"] = str(exc.retry_after_s)
            return response
        with transaction.atomic():
            user = form.save()
            profile_set_time_zone(user=user, time_zone=form.cleaned_data["time_zone"])
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome! Start by rating your skills.")
        return redirect("home")
    return render(request, "accounts/signup.html", {"form": form})


@login_required
def account_settings(request):
    profile = profile_get_or_create(user=request.user)
    form = TimeZoneForm(request.POST or None, initial={"time_zone": profile.time_zone})
    if request.method == "POST" and form.is_valid():
        profile_set_time_zone(user=request.user, time_zone=form.cleaned_data["time_zone"])
        messages.success(request, "Time zone saved.")
        return redirect("account-settings")
    return render(request, "accounts/settings.html", {"form": form, "profile": profile})


# --- API tokens ------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    new_key = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            token_id = small_int(request.POST.get("token"))
            if token_id is not None and services.api_token_revoke(
                user=request.user, token_id=token_id
            ):
                messages.success(request, "Token revoked.")
            return redirect("api-tokens")
        try:
            rate_hit(scope="token_create", key=str(request.user.pk))
        except RateLimited as exc:
            messages.error(request, f"No token was made. {exc}")
            response = redirect("api-tokens")
            response["Retry-After"] = str(exc.retry_after_s)
            return response
        _token, new_key = services.api_token_create(
            user=request.user, name=request.POST.get("name", "")
        )
    return render(
        request,
        "accounts/api_tokens.html",
        {"tokens": request.user.api_tokens.all(), "new_key": new_key, "now": timezone.now()},
    )
