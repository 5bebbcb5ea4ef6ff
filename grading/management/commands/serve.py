"""Start the web server and one Celery worker together; Ctrl-C stops both.

This is what `make run` ends with. One worker consumes both grading queues; a second,
small one runs the beat schedule and consumes the sweeper's own queue. With
--gunicorn the web side is gunicorn instead of Django's development server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the web server and a Celery worker together (Ctrl-C stops both)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--gunicorn", action="store_true")

    def handle(self, *args, port: int, host: str, gunicorn: bool, **options):
        python = sys.executable
        if gunicorn:
            web = [python, "-m", "gunicorn", "config.wsgi", "-b", f"{host}:{port}", "-w", "2"]
        else:
            web = [python, "manage.py", "runserver", f"{host}:{port}", "--noreload"]
        worker = [
            python, "-m", "celery", "-A", "config", "worker", "-n", "grader@%h",
            "-Q", "grade.cpu,grade.gpu", "--concurrency", "1", "--loglevel", "INFO",
        ]  # fmt: skip
        sweeper = [
            python, "-m", "celery", "-A", "config", "worker", "-n", "sweeper@%h",
            "-Q", "grade.sweep", "--pool", "solo", "--loglevel", "INFO",
            # Embedded beat, beside the sweeper's own queue: it never waits for a grading.
            "--beat", "--schedule", str(settings.VAR_DIR / "celerybeat-schedule"),
        ]  # fmt: skip
        # Labs on a worker of their own: a minute-long lab never holds up a grading.
        lab = [
            python, "-m", "celery", "-A", "config", "worker", "-n", "lab@%h",
            "-Q", "lab.cpu", "--concurrency", "1", "--loglevel", "INFO",
        ]  # fmt: skip
        broker = settings.CELERY_BROKER_URL.split("://", 1)[0]
        self.stdout.write(
            self.style.SUCCESS(f"ResNet prep on http://{host}:{port}/  (Ctrl-C stops it)")
        )
        self.stdout.write(
            f"  database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, "
            f"broker: {broker}\n"
            f"  create an account at http://{host}:{port}/accounts/signup/ "
            "(or an admin: python manage.py createsuperuser)"
        )
        procs = [subprocess.Popen(cmd) for cmd in (worker, sweeper, lab, web)]
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping and all(p.poll() is None for p in procs):
                time.sleep(0.3)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 15
            for p in procs:
                try:
                    p.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
        failed = [p.args[2] for p in procs if p.returncode not in (0, -signal.SIGTERM, None)]
        if failed and not stopping:
            raise SystemExit(f"stopped because a process exited: {failed}")
