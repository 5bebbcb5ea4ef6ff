"""Bounded collection of a job's output (a flood must not fill the worker's memory), and
the status a run gets from what was observed of it outside the box."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sandbox.bootstrap import READY, WAITING
from sandbox.types import RunResult, Status


class CappedStream:
    """Keeps at most `cap` bytes; past that it drops the rest and says so."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._parts: list[bytes] = []
        self._size = 0
        self.truncated = False

    def feed(self, data: bytes) -> bool:
        """Add data; True when the cap has just been passed."""
        if self.truncated or not data:
            return False
        room = self.cap - self._size
        if len(data) > room:
            self._parts.append(data[:room])
            self._size = self.cap
            self.truncated = True
            return True
        self._parts.append(data)
        self._size += len(data)
        return False

    def value(self) -> bytes:
        return b"".join(self._parts)

    @property
    def size(self) -> int:
        return self._size


class JobOutput:
    """stdout and stderr of one job, with the bootstrap's ready marker taken off stderr."""

    def __init__(self, cap: int) -> None:
        self.stdout = CappedStream(cap)
        self.stderr = CappedStream(cap)
        self.ready = False
        self._prefix = b""  # stderr bytes seen before the marker (bootstrap's own messages)
        self.over_cap = threading.Event()
        self.waiting = threading.Event()  # a warm waiter has imported and waits for its job
        self._listener: Callable[[bytes], None] | None = None

    def listen(self, listener: Callable[[bytes], None] | None) -> None:
        """Also hand each stdout chunk kept from now on to `listener` (Job.on_stdout)."""
        self._listener = listener

    def feed_stdout(self, data: bytes) -> None:
        before = self.stdout.size
        over = self.stdout.feed(data)
        kept = data[: self.stdout.size - before]
        listener = self._listener
        if listener is not None and kept:
            try:
                listener(kept)
            except Exception:
                pass  # a listener's failure never changes the run or its result
        if over:
            self.over_cap.set()

    def feed_stderr(self, data: bytes) -> None:
        if not self.ready:
            self._prefix += data
            if not self.waiting.is_set() and WAITING in self._prefix:
                self._prefix = self._prefix.replace(WAITING, b"", 1)
                self.waiting.set()
            at = self._prefix.find(READY)
            if at < 0:
                # The bootstrap writes a short message at most before the marker.
                if len(self._prefix) > 64 * 1024:
                    self.over_cap.set()
                return
            self.ready = True
            data = self._prefix[at + len(READY) :]
            self._prefix = self._prefix[:at]
        if self.stderr.feed(data):
            self.over_cap.set()

    def setup_message(self) -> str:
        """What the bootstrap said before failing (empty when it got as far as the exec)."""
        return self._prefix.decode("utf-8", "replace").strip()


def job_result(
    *,
    output: JobOutput,
    code: int | None,
    timed_out: bool,
    oom: bool,
    killed_from_outside: str | None = None,
    cancelled: bool = False,
    wall: float,
    backend: str,
    image: str | None,
) -> RunResult:
    """Turn what was observed from outside into a status; the order decides ties."""
    signal = code - 128 if code is not None and code > 128 else None
    detail = ""
    if cancelled:
        status = Status.CANCELLED  # the caller asked: nothing else about the run matters
    elif output.over_cap.is_set():
        status = Status.OUTPUT_LIMIT
    elif timed_out:
        status = Status.TIMEOUT
    elif oom:
        status = Status.MEMORY_LIMIT
    elif killed_from_outside:
        # Killed by the engine on someone's order while it ran: our failure, retried.
        status = Status.SANDBOX_ERROR
        detail = f"the container was killed from outside: {killed_from_outside} (exit {code})"
    elif not output.ready:
        status = Status.SANDBOX_ERROR
        detail = output.setup_message() or f"the job never started (exit {code})"
    elif code == 0:
        status = Status.OK
    else:
        status = Status.RUNTIME_ERROR
    return RunResult(
        status=status,
        exit_code=code,
        signal=signal,
        stdout=output.stdout.value(),
        stderr=output.stderr.value(),
        stdout_truncated=output.stdout.truncated,
        stderr_truncated=output.stderr.truncated,
        wall_s=wall,
        backend=backend,
        image=image,
        detail=detail,
    )
