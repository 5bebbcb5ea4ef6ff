from django.urls import path

from quizbank import views

urlpatterns = [
    path("", views.home, name="home"),
]
