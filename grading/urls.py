from django.urls import path

from grading import views, views_scratch
from grading.api import api

urlpatterns = [
    path("exercises/", views.exercise_list, name="exercise-list"),
    path("exercises/<slug:slug>/", views.exercise_detail, name="exercise-detail"),
    path("exercises/<slug:slug>/submit", views.exercise_submit, name="exercise-submit"),
    path("submissions/<int:pk>/status", views.submission_status, name="submission-status"),
    path("exercises/<slug:slug>/scratch", views_scratch.scratch_submit, name="scratch-submit"),
    path("scratch/<int:pk>/status", views_scratch.scratch_status, name="scratch-status"),
    path("api/", api.urls),
]
