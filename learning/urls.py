from django.urls import path

from learning import views, views_calendar

urlpatterns = [
    path("", views.home, name="home"),
    path("skills/", views.skills_rate, name="skills-rate"),
    path("skills/history/", views.skills_history, name="skills-history"),
    path("skills/snapshots/<int:snapshot_id>/", views.skills_snapshot, name="skills-snapshot"),
    path("plan/", views.plan, name="plan"),
    path("plan/start/", views.plan_start, name="plan-start"),
    path(
        "plan/<int:plan_id>/tasks/<int:task_id>/confirm/",
        views.plan_task_confirm,
        name="plan-task-confirm",
    ),
    path("plan.ics", views.plan_ics, name="plan-ics"),
    path("deck.apkg", views.deck_apkg, name="deck-apkg"),
    path("calendar/", views_calendar.calendar_page, name="calendar"),
    path("calendar/feed/", views_calendar.calendar_manage, name="calendar-manage"),
    path("calendar/<str:token>.ics", views_calendar.calendar_feed_ics, name="calendar-feed"),
    path("due/", views.due, name="due"),
    path("items/<int:item_id>/answer/", views.item_answer, name="item-answer"),
    path("reviews/<int:entry_id>/rerate/", views.review_rerate, name="review-rerate"),
    path("cards/<int:card_id>/", views.card_detail, name="card-detail"),
    path("practice/", views.practice_index, name="practice"),
    path("practice/<slug:part_slug>/", views.practice_part, name="practice-part"),
    path("problems/<slug:problem_slug>/", views.problem_detail, name="problem"),
    path("problems/<slug:problem_slug>/solved/", views.problem_solved, name="problem-solved"),
]
