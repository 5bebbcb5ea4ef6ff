"""Job.on_stdout: a caller sees a job's stdout while it runs (the lab's progress), the
same bytes the result holds, and never past the cap; a failing listener changes nothing."""

from __future__ import annotations

import time

from sandbox.backends import Backend
from sandbox.types import Job, Limits, Status

SLOW_PRINTER = (
    "import sys, time\n"
    "for i in range(3):\n"
    "    sys.stdout.write(f'line {i}\\n'); sys.stdout.flush(); time.sleep(0.8)\n"
)


def test_stdout_reaches_the_listener_while_the_job_runs(backend: Backend) -> None:
    seen: list[tuple[float, bytes]] = []
    job = Job(
        files={"main.py": SLOW_PRINTER.encode()},
        command=["python", "main.py"],
        on_stdout=lambda chunk: seen.append((time.monotonic(), chunk)),
    )
    result = backend.run(job, Limits(wall_s=20))
    returned = time.monotonic()
    assert result.status == Status.OK, result.detail + result.stderr.decode()
    assert b"".join(chunk for _, chunk in seen) == result.stdout == b"line 0\nline 1\nline 2\n"
    # The first line came while the job still had more than a second to run.
    assert returned - seen[0][0] > 1.0


def test_the_listener_never_sees_past_the_cap_and_its_failure_changes_nothing(
    backend: Backend,
) -> None:
    seen: list[bytes] = []

    def listener(chunk: bytes) -> None:
        seen.append(chunk)
        raise RuntimeError("a broken listener")

    job = Job(
        files={"main.py": b"import sys\nsys.stdout.write('a' * 5000)\n"},
        command=["python", "main.py"],
        on_stdout=listener,
    )
    result = backend.run(job, Limits(wall_s=10, output_bytes=1000))
    assert result.status == Status.OUTPUT_LIMIT
    assert b"".join(seen) == result.stdout == b"a" * 1000
