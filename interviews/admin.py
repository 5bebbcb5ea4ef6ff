from django.contrib import admin

from interviews.models import MockAnswer, MockAttempt
from learning.admin import ReadOnlyAdmin


class MockAnswerInline(admin.StackedInline):
    model = MockAnswer
    extra = 0
    can_delete = False
    fields = ["step", "text", "saved_at", "rubric_ticked", "traps_hit"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(MockAttempt)
class MockAttemptAdmin(ReadOnlyAdmin):
    list_display = ["user", "script", "started_at", "deadline", "untimed", "ended_at", "end_reason"]
    list_filter = ["script", "end_reason", "untimed"]
    search_fields = ["user__username"]
    inlines = [MockAnswerInline]
