"""Bounded collection of a job's output: a flood must not fill the worker's memory."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sandbox.bootstrap import READY


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
