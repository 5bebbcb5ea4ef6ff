from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views as account_views

urlpatterns = [
    path("signup/", account_views.signup, name="signup"),
    path("login/", auth_views.LoginView.as_view(template_name="accounts/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/",
        auth_views.PasswordChangeView.as_view(template_name="accounts/password_change_form.html"),
        name="password_change",
    ),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="accounts/password_change_done.html"
        ),
        name="password_change_done",
    ),
    path("settings/", account_views.account_settings, name="account-settings"),
    path("api-tokens/", account_views.api_tokens, name="api-tokens"),
]
