"""The sandbox's public data types. Plain dataclasses: no Django, no docker import."""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from dataclasses import dataclass, field


class Status(enum.StrEnum):
    """Every way a run can end. Only SANDBOX_ERROR is our fault, never the candidate's."""

    OK = "ok"
    RUNTIME_ERROR = "runtime_error"  # non-zero exit or killed by a signal
    TIMEOUT = "timeout"  # wall-clock limit, enforced from outside
    MEMORY_LIMIT = "memory_limit"  # the memory cgroup / rlimit killed it
    OUTPUT_LIMIT = "output_limit"  # stdout or stderr went past its cap
    SANDBOX_ERROR = "sandbox_error"  # the backend failed: retry, do not blame the code
    CANCELLED = "cancelled"  # the caller set Job.cancel: stopped on request, not retried


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Hard limits for one job. Defaults are the issue's: 20 s, 1 GiB, 64 pids, 1 CPU."""

    wall_s: float = 20.0
    memory_mb: int = 1024
    pids: int = 64
    cpus: float = 1.0
    output_bytes: int = 64 * 1024  # per stream
    tmpfs_mb: int = 64
    gpus: str = "none"  # "none", "all", or device ids "0,1"


@dataclass(frozen=True, kw_only=True)
class Job:
    """Files laid out in the job's writable working folder, and the command to run there.

    `files` maps relative paths to bytes. `command` is an argv list; "python" names the
    sandbox's interpreter. `on_stdout`, if given, is called with each chunk of stdout
    the job writes (within the cap) while it runs, on the backend's reader thread: raw,
    untrusted bytes for a caller that shows progress; the RunResult is unchanged.
    `cancel`, if given, is watched while the job runs: once it is set the job is killed
    and the run ends as CANCELLED (a learner stopped a lab, say).
    """

    files: dict[str, bytes]
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    on_stdout: Callable[[bytes], None] | None = field(default=None, compare=False, repr=False)
    cancel: threading.Event | None = field(default=None, compare=False, repr=False)

    def cancel_requested(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """What came back: raw data only. Nothing in here is trusted beyond being bytes."""

    status: Status
    exit_code: int | None
    signal: int | None
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    wall_s: float
    backend: str
    image: str | None = None
    detail: str = ""  # our own diagnostics (e.g. why a sandbox_error happened)
    warm: bool = False  # served by a container of the warm pool (started ahead)

    @classmethod
    def sandbox_error(
        cls, *, backend: str, wall_s: float, detail: str, image: str | None = None
    ) -> RunResult:
        """A run that failed on our side: nothing came back from the job."""
        return cls(
            status=Status.SANDBOX_ERROR,
            exit_code=None,
            signal=None,
            stdout=b"",
            stderr=b"",
            stdout_truncated=False,
            stderr_truncated=False,
            wall_s=wall_s,
            backend=backend,
            image=image,
            detail=detail,
        )

    def to_json(self) -> dict[str, object]:
        return {
            "status": str(self.status),
            "exit_code": self.exit_code,
            "signal": self.signal,
            "stdout": self.stdout.decode("utf-8", "replace"),
            "stderr": self.stderr.decode("utf-8", "replace"),
            "stdout_truncated": self.stdout_truncated,
            "stderr_truncated": self.stderr_truncated,
            "wall_s": round(self.wall_s, 3),
            "backend": self.backend,
            "image": self.image,
            "detail": self.detail,
        }


class SandboxUnavailable(RuntimeError):
    """No backend can run jobs on this host; the message says how to enable one."""
