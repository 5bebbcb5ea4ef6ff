from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path

from config.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # Browsers ask for /favicon.ico whatever the page says; send them to the vendored icon.
    path("favicon.ico", lambda request: redirect(static("favicon.svg")), name="favicon"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("mock/", include("interviews.urls")),
    path("lab/", include("lab.urls")),
    path("", include("grading.urls")),
    path("", include("learning.urls")),
]

handler400 = "config.errors.bad_request"
handler404 = "config.errors.not_found"
