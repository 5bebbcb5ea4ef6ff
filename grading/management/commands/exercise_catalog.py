"""`manage.py exercise_catalog [--check]`: write (or check) grading/exercises/catalog.json."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from grading.catalog import CATALOG_PATH, catalog_text


class Command(BaseCommand):
    help = "Write what the web pages show of each exercise into grading/exercises/catalog.json."

    def add_arguments(self, parser) -> None:  # noqa: ANN001 - Django's parser
        parser.add_argument("--check", action="store_true", help="fail if the file is stale")

    def handle(self, *args: object, check: bool = False, **options: object) -> None:
        from grading.engine import exercise_catalog

        text = catalog_text(exercise_catalog())
        if check:
            if CATALOG_PATH.read_text() != text:
                raise CommandError("catalog.json is stale: run manage.py exercise_catalog")
            self.stdout.write("catalog.json is up to date")
            return
        CATALOG_PATH.write_text(text)
        self.stdout.write(f"wrote {CATALOG_PATH.name}")
