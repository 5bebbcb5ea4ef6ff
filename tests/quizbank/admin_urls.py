"""Only the admin: the admin tests must not depend on the learner pages' URL modules."""

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
