"""Learner state in the admin: read-only for staff (support and FSRS analysis); only the
services write it."""

from __future__ import annotations

from django.contrib import admin

from learning.models import (
    LearnerCard,
    LearnerPlan,
    ProblemSolve,
    ReviewLogEntry,
    SkillRating,
    SkillRatingSnapshot,
    TaskCompletion,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Learner history is changed only through the services; staff may look, not edit."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class SkillRatingInline(admin.TabularInline):
    model = SkillRating
    extra = 0
    can_delete = False
    fields = ["skill", "score"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SkillRatingSnapshot)
class SkillRatingSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["user", "chapter", "taken_at"]
    list_filter = ["chapter"]
    search_fields = ["user__username"]
    inlines = [SkillRatingInline]


@admin.register(LearnerPlan)
class LearnerPlanAdmin(ReadOnlyAdmin):
    list_display = ["user", "chapter", "started_on", "time_zone", "active", "ended_at"]
    list_filter = ["chapter", "active"]
    search_fields = ["user__username"]


@admin.register(TaskCompletion)
class TaskCompletionAdmin(ReadOnlyAdmin):
    list_display = ["plan", "task", "completed_at", "how"]
    list_filter = ["how"]
    search_fields = ["plan__user__username", "task__slug"]


@admin.register(LearnerCard)
class LearnerCardAdmin(ReadOnlyAdmin):
    list_display = ["user", "item", "due", "reps", "lapses", "updated_at"]
    search_fields = ["user__username", "item__slug"]


@admin.register(ReviewLogEntry)
class ReviewLogEntryAdmin(ReadOnlyAdmin):
    list_display = ["user", "item", "rating", "source", "counted", "reviewed_at", "duration_ms"]
    list_filter = ["rating", "source", "counted"]
    search_fields = ["user__username", "item__slug"]
    date_hierarchy = "reviewed_at"


@admin.register(ProblemSolve)
class ProblemSolveAdmin(ReadOnlyAdmin):
    list_display = ["user", "problem", "solved_at", "hints_seen", "saw_solution"]
    search_fields = ["user__username", "problem__slug"]
