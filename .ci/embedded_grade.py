"""CI smoke test of the embedded default: a submission graded by the worker `make run` started.

Run with `manage.py shell -c "exec(open('.ci/embedded_grade.py').read())"` while `make run`
is up: it queues a correct se-block through the filesystem broker and waits for the verdict.
"""

import pathlib
import time

from django.contrib.auth.models import User

from grading import services

user, _ = User.objects.get_or_create(username="ci-smoke")
code = pathlib.Path("tests/grading/variants/se_block/correct_functional.py").read_text()
submission = services.submission_create(user=user, exercise="se-block", code=code)
start = time.monotonic()
while time.monotonic() - start < 300:
    submission.refresh_from_db()
    if submission.status not in ("queued", "running"):
        break
    time.sleep(1)
elapsed = time.monotonic() - start
print(
    f"embedded grading: {submission.status} {submission.passed}/{submission.total} tests, "
    f"submit to verdict {elapsed:.1f} s"
)
if submission.status != "passed":
    raise SystemExit(1)
