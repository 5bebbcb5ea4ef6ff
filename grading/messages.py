"""What the learner is told about a run: its summary line, and our failures in plain words."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grading.verdict import Verdict


def no_sandbox_message(*, reason: str) -> str:
    """What the learner sees when the worker has no way to run code (docs/architecture.md)."""
    return (
        "Your code could not be run: the grading worker has no sandbox to run it in "
        f"({reason}). This is not a problem with your submission. Whoever runs this server "
        "can enable one: start the Docker engine and build the image with "
        "`make sandbox-image`, or install bubblewrap on Linux."
    )


OUR_FAULT_MESSAGE = (
    "The grading system failed to run your code, several times. This is our fault, not a "
    "problem with your submission, and it does not count against you. Please submit again "
    "in a few minutes."
)
ERROR_MESSAGES = {
    "syntax": "Your code has a syntax error, so it could not be imported.",
    "syntax_error": "Your code has a syntax error, so it could not be imported.",
    "import": "Your code raised an error while it was being imported.",
    "import_error": "Your code raised an error while it was being imported.",
    "runtime": "Your code raised an error while the tests ran.",
    "runtime_error": "Your code raised an error while the tests ran.",
    "interface": "Your code does not provide what the exercise asks for (a name or signature).",
    "timeout": "Your code ran past the time limit and was stopped.",
    "memory": "Your code used more memory than allowed and was stopped.",
    "memory_limit": "Your code used more memory than allowed and was stopped.",
    "output": "Your code printed more output than allowed and was stopped.",
    "output_limit": "Your code printed more output than allowed and was stopped.",
}
STORE_FAILED_MESSAGE = (
    "Your code was graded, but the result could not be saved (our fault, not your code). "
    "Please submit again."
)


def learner_message(verdict: Verdict) -> str:
    if verdict.status == "passed":
        return f"All {verdict.total} tests passed."
    if verdict.status == "failed":
        return f"{verdict.passed} of {verdict.total} tests passed."
    if verdict.error_kind in ("timeout", "memory", "output_limit") and verdict.tests:
        # The engine's message names the limit that was hit, with its value.
        text = verdict.tests[0].message.removeprefix("not run to the end: ")
        return f"{text[:1].upper()}{text[1:]}, and was stopped."
    return ERROR_MESSAGES.get(
        verdict.error_kind, "Your code stopped with an error before the tests could finish."
    )
