from django.urls import path

from interviews import views as mock_views
from interviews import views_coding

urlpatterns = [
    path("", mock_views.mock_list, name="mock-list"),
    path("<slug:slug>/start/", mock_views.mock_start, name="mock-start"),
    path("attempt/<int:attempt_id>/", mock_views.mock_attempt, name="mock-attempt"),
    path(
        "attempt/<int:attempt_id>/steps/<int:step_id>/save/",
        mock_views.mock_autosave_step,
        name="mock-autosave",
    ),
    path(
        "attempt/<int:attempt_id>/steps/<int:step_id>/run/",
        views_coding.mock_run_code,
        name="mock-run-code",
    ),
    path("attempt/<int:attempt_id>/save/", mock_views.mock_save, name="mock-save"),
    path("attempt/<int:attempt_id>/submit/", mock_views.mock_submit, name="mock-submit"),
    path("attempt/<int:attempt_id>/review", mock_views.mock_review, name="mock-review"),
    path("attempt/<int:attempt_id>/interviewer/", mock_views.mock_invite, name="mock-invite"),
    path("interviewer/<str:token>/", mock_views.mock_interviewer, name="mock-interviewer"),
]
