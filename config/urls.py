from django.contrib import admin
from django.urls import include, path

from config.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("mock/", include("interviews.urls")),
    path("lab/", include("lab.urls")),
    path("", include("grading.urls")),
    path("", include("learning.urls")),
]

handler400 = "config.errors.bad_request"
handler404 = "config.errors.not_found"
