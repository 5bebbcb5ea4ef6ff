from django.contrib import admin

from grading.models import Submission, TestResult


class TestResultInline(admin.TabularInline):
    model = TestResult
    extra = 0
    can_delete = False
    readonly_fields = ["order", "name", "category", "passed", "message"]


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "exercise", "kind", "status", "score", "attempts", "created_at",
                    "wall_s"]  # fmt: skip
    list_filter = ["status", "kind", "exercise", "backend"]
    search_fields = ["user__username", "exercise"]
    date_hierarchy = "created_at"
    inlines = [TestResultInline]
    readonly_fields = [f.name for f in Submission._meta.fields]
