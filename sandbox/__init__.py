"""Runs untrusted code with hard limits and gives back raw results.

A plain library: nothing here imports Django or the project's apps. Public API:

- `run(job, limits, backend=...) -> RunResult`
- `select_backend(preference) -> Backend` (raises SandboxUnavailable with how to fix it)
- `backend_status(preference, image) -> dict` (for /healthz)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.types import Job, Limits, RunResult, SandboxUnavailable, Status

if TYPE_CHECKING:
    from sandbox.backends import Backend

__all__ = [
    "Job",
    "Limits",
    "RunResult",
    "SandboxUnavailable",
    "Status",
    "backend_status",
    "run",
    "select_backend",
]


def select_backend(preference: str = "auto", *, image: str | None = None) -> Backend:
    from sandbox.backends import select_backend as _select

    return _select(preference, image=image)


def run(job: Job, limits: Limits | None = None, *, backend: str = "auto",
        image: str | None = None) -> RunResult:  # fmt: skip
    from sandbox.backends import chosen_backend

    return chosen_backend(backend, image=image).run(job, limits or Limits())


def backend_status(*, preference: str = "auto", image: str | None = None) -> dict[str, object]:
    from sandbox.backends import backend_status as _status

    return _status(preference, image=image)
