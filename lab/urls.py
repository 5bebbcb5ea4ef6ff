from django.urls import path

from lab import views

urlpatterns = [
    path("<slug:slug>/", views.lab_panel, name="lab-panel"),
    path("<slug:slug>/start", views.lab_start_view, name="lab-start"),
    path("runs/<int:pk>/cancel", views.lab_cancel_view, name="lab-cancel"),
]
