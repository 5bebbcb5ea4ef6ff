from django.contrib import admin

from grading.models import ApiToken, Submission, TestResult


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


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at"]
    search_fields = ["user__username", "name", "prefix"]
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at"]
