"""Load the quiz bank from its YAML folder(s); see quizbank/content/README.md."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from quizbank.content_source import ContentError, chapter_folders
from quizbank.loader import bank_load


class Command(BaseCommand):
    help = (
        "Validate and upsert the quiz bank by slug in one transaction. PATH is a chapter "
        "folder (default: every folder under quizbank/content/ with a chapter.yaml). "
        "Bad content stops the load before anything is written."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="*", metavar="PATH", help="chapter folder(s)")

    def handle(self, *args, paths: list[str], **options):
        folders = [Path(path) for path in paths] or chapter_folders()
        for folder in folders:
            if not folder.is_dir():
                raise CommandError(f"{folder}: not a folder", returncode=1)
        try:
            report = bank_load(folders=folders)
        except ContentError as error:
            for problem in error.all:
                self.stderr.write(str(problem))
            count = len(error.all)
            raise CommandError(
                f"{count} content error{'s' if count != 1 else ''}; nothing was loaded",
                returncode=1,
            ) from error
        for warning in report.warnings:
            self.stderr.write(f"warning: {warning}")
        self.stdout.write(f"loaded {', '.join(report.chapters)}")
        for line in report.lines():
            self.stdout.write(line)
