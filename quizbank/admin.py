"""The content admin: every kind of quiz-bank entry, with its parts inline.

The YAML under quizbank/content/ is the source of truth: saving an entry here clears
its content hash, so the next `load_quizbank` rewrites it from the files.
"""

from __future__ import annotations

from django.contrib import admin

from quizbank.models import (
    Chapter,
    Choice,
    ExerciseStatement,
    Hint,
    Item,
    MockScript,
    MockStep,
    Part,
    Problem,
    ReviewDay,
    ReviewTask,
    RubricPoint,
    Skill,
)


class ReloadFromFilesMixin:
    """A hand edit marks the row as differing from the files (see the module docstring)."""

    def save_model(self, request, obj, form, change):
        if hasattr(obj, "content_hash"):
            obj.content_hash = ""
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj = form.instance
        if any(formset.has_changed() for formset in formsets) and hasattr(obj, "content_hash"):
            type(obj).objects.filter(pk=obj.pk).update(content_hash="")


@admin.register(Chapter)
class ChapterAdmin(admin.ModelAdmin):
    list_display = ["slug", "title", "version", "loaded_at", "retired"]
    list_filter = ["retired"]
    search_fields = ["slug", "title", "summary"]
    readonly_fields = ["content_hash", "loaded_at"]


@admin.register(Part)
class PartAdmin(admin.ModelAdmin):
    list_display = ["slug", "title", "chapter", "order", "retired"]
    list_filter = ["chapter", "retired"]
    search_fields = ["slug", "title"]


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ["slug", "title", "chapter", "order", "retired"]
    list_filter = ["chapter", "parts", "retired"]
    search_fields = ["slug", "title", "description"]
    filter_horizontal = ["parts"]


class ChoiceInline(admin.TabularInline):
    model = Choice
    extra = 0
    fields = ["order", "text", "correct", "why"]


class RubricPointInline(admin.TabularInline):
    model = RubricPoint
    extra = 0
    fields = ["order", "text", "keywords"]


@admin.register(Item)
class ItemAdmin(ReloadFromFilesMixin, admin.ModelAdmin):
    list_display = ["slug", "kind", "part", "chapter", "cheat_sheet", "retired"]
    list_filter = ["chapter", "part", "kind", "retired", "cheat_sheet"]
    search_fields = ["slug", "prompt", "explanation", "model_answer"]
    list_select_related = ["part", "chapter"]
    readonly_fields = ["content_hash"]
    inlines = [ChoiceInline, RubricPointInline]
    fieldsets = [
        (None, {"fields": ["chapter", "part", "slug", "kind", "order", "cheat_sheet", "tags"]}),
        ("Question", {"fields": ["prompt", "explanation"]}),
        (
            "Numeric",
            {"fields": ["answer_number", "tolerance", "tolerance_mode", "unit", "protocol"]},
        ),
        ("Free text", {"fields": ["model_answer", "traps"]}),
        ("Loading", {"fields": ["content_hash", "retired"]}),
    ]


class HintInline(admin.TabularInline):
    model = Hint
    extra = 0


@admin.register(Problem)
class ProblemAdmin(ReloadFromFilesMixin, admin.ModelAdmin):
    list_display = ["slug", "title", "part", "chapter", "retired"]
    list_filter = ["chapter", "part", "retired"]
    search_fields = ["slug", "title", "statement", "solution"]
    readonly_fields = ["content_hash"]
    inlines = [HintInline]


@admin.register(ExerciseStatement)
class ExerciseStatementAdmin(ReloadFromFilesMixin, admin.ModelAdmin):
    list_display = ["slug", "title", "part", "chapter", "retired"]
    list_filter = ["chapter", "part", "retired"]
    search_fields = ["slug", "title", "statement"]
    readonly_fields = ["content_hash"]


class MockStepInline(admin.TabularInline):
    model = MockStep
    extra = 0
    fields = ["order", "item", "exercise", "interviewer_note"]
    raw_id_fields = ["item", "exercise"]


@admin.register(MockScript)
class MockScriptAdmin(ReloadFromFilesMixin, admin.ModelAdmin):
    list_display = ["slug", "title", "kind", "duration_s", "chapter", "retired"]
    list_filter = ["chapter", "kind", "retired"]
    search_fields = ["slug", "title", "intro"]
    readonly_fields = ["content_hash"]
    inlines = [MockStepInline]


class ReviewTaskInline(admin.StackedInline):
    model = ReviewTask
    extra = 0
    fields = ["order", "slug", "title", "kind", "items", "problem", "exercise", "mock", "retired"]
    filter_horizontal = ["items"]


@admin.register(ReviewDay)
class ReviewDayAdmin(admin.ModelAdmin):
    list_display = ["day", "title", "chapter", "retired"]
    list_filter = ["chapter", "retired"]
    search_fields = ["title"]
    inlines = [ReviewTaskInline]


@admin.register(ReviewTask)
class ReviewTaskAdmin(admin.ModelAdmin):
    list_display = ["slug", "title", "kind", "review_day", "retired"]
    list_filter = ["review_day__chapter", "review_day", "kind", "retired"]
    search_fields = ["slug", "title"]
    filter_horizontal = ["items"]
