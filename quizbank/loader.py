"""Loading the quiz bank from its YAML folder (format: content/SCHEMA.md).

`bank_load` reads every chapter folder (content_source.py) and validates ALL of it
(content_validation.py and content_items.py: structure, references, figure keys, LaTeX
rendered by KaTeX) before writing anything, then upserts by slug in one transaction
(content_writes.py):

- an entry whose content is unchanged is not written (items, problems, exercises and
  mocks compare a content hash; the others compare their few fields);
- an entry that changed is updated; its choices, rubric points and hints belong to it
  and are rewritten in place by position, and mock steps are matched by the question
  they ask, so the ids that learners' rows hold (mock answers, ticked rubric points)
  keep meaning the same thing;
- a row of the chapter that the files no longer contain is marked `retired`, never
  deleted, so a learner's history that points at it survives.

Any problem raises ContentError (file, slug, field, message) and nothing is written.
"""

from __future__ import annotations

from pathlib import Path

from django.db import transaction
from django.utils import timezone

from quizbank.content_source import (
    ContentError,
    chapter_folders,
    content_read,
    default_content_root,
    display_path,
    raise_all,
)
from quizbank.content_validation import Plan, content_check_latex, content_validate
from quizbank.content_writes import (
    LoadReport,
    content_digest,
    write_days,
    write_items,
    write_mocks,
    write_parts,
    write_simple,
    write_skills,
)
from quizbank.models import Chapter, ExerciseStatement, Problem
from quizbank.revision import revision_batched


def bank_load(*, folders: list[Path] | None = None) -> LoadReport:
    """Validate the chapter folders completely, then upsert them in one transaction."""
    folders = folders if folders is not None else chapter_folders()
    if not folders:
        raise ContentError(default_content_root(), None, None, "no chapter folders found")
    plans = []
    errors: list[ContentError] = []
    for folder in folders:
        try:
            plans.append(content_validate(source=content_read(folder=folder)))
        except ContentError as error:
            errors.extend(error.all)
    raise_all(errors)
    by_slug: dict[str, Plan] = {}
    for plan in plans:
        slug = plan.chapter["slug"]
        if slug in by_slug:
            raise ContentError(
                plan.folder / "chapter.yaml",
                slug,
                "slug",
                f"chapter slug also used by {display_path(by_slug[slug].folder)}",
                entity="chapter",
            )
        by_slug[slug] = plan
    report = LoadReport()
    report.warnings = content_check_latex(plans=plans)
    with transaction.atomic(), revision_batched() as batch:
        for plan in plans:
            _write_chapter(plan, report)
            report.chapters.append(plan.chapter["slug"])
        if report.written:
            batch.mark()  # retiring is a bulk update, which sends no signal
    return report


def _write_chapter(plan: Plan, report: LoadReport) -> None:
    chapter_hash = content_digest(
        {
            "chapter": plan.chapter,
            "parts": plan.parts,
            "skills": plan.skills,
            "items": plan.items,
            "problems": plan.problems,
            "exercises": plan.exercises,
            "mocks": plan.mocks,
            "days": plan.days,
        }
    )
    chapter, _ = Chapter.objects.get_or_create(
        slug=plan.chapter["slug"],
        defaults={"title": plan.chapter["title"], "version": plan.chapter["version"]},
    )
    wanted = {
        "title": plan.chapter["title"],
        "version": plan.chapter["version"],
        "summary": plan.chapter["summary"],
        "content_hash": chapter_hash,
        "retired": False,
    }
    if any(getattr(chapter, name) != value for name, value in wanted.items()):
        for name, value in wanted.items():
            setattr(chapter, name, value)
        chapter.loaded_at = timezone.now()
        chapter.save()

    parts = write_parts(chapter, plan, report)
    items = write_items(chapter, plan, parts, report)
    problems = write_simple(chapter, plan.problems, Problem, parts, report, "problems")
    exercises = write_simple(chapter, plan.exercises, ExerciseStatement, parts, report, "exercises")
    mocks = write_mocks(chapter, plan, items, exercises, report)
    write_skills(chapter, plan, parts, report)
    write_days(chapter, plan, items, problems, exercises, mocks, report)
