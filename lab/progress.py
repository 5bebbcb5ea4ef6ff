"""A lab's partial curves, read from the sandbox's stdout while it runs.

The harness writes one line per progress record, `TOKEN:<base64 JSON>:TOKEN`, beside the
learner's code: untrusted raw data like the final frame, and only ever shown as a
progress bar and a partial curve. What each network is (its kind and depth, how many
steps it has) comes from the plan the worker sent, not from the records; a record only
adds numbers to a network named by its index, and is dropped whole when it is too long,
malformed, out of order or out of range. Past MAX_RECORDS nothing more is read. The
finished result never comes from here: it is the final frame, validated on its own.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import math
import secrets
import threading
from typing import Any

MAX_RECORD_BYTES = 4096  # a line longer than this (the final frame, a flood) is skipped
MAX_RECORDS = 5000


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


class LabProgress:
    """Thread-safe: `feed` runs on the sandbox's reader thread, `snapshot` elsewhere."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.token = secrets.token_hex(16)
        steps, every = int(plan["steps"]), max(1, int(plan["every"]))
        self.points = steps // every
        self.networks: list[dict[str, Any]] = [
            {
                "kind": kind,
                "layers": 6 * int(n) + 2,
                "blocks": 3 * int(n),
                "steps": steps,
                "step": 0,
                "state": "waiting",
                "grad_norms": [],
                "train_loss": [],
                "train_error": [],
            }  # fmt: skip
            for n in plan["ns"]
            for kind in ("plain", "residual")
        ]
        self.records = 0
        self.version = 0  # bumped by each record taken
        self._buffer = b""
        self._skipping = False
        self._lock = threading.Lock()

    def feed(self, chunk: bytes) -> None:
        """Take a chunk of the job's stdout (any split), keeping at most one short line."""
        with self._lock:
            self._buffer += chunk
            while (at := self._buffer.find(b"\n")) >= 0:
                line, self._buffer = self._buffer[:at], self._buffer[at + 1 :]
                if self._skipping:
                    self._skipping = False  # the end of a line too long to read
                elif self.records < MAX_RECORDS:
                    self._line(line)
            if len(self._buffer) > MAX_RECORD_BYTES:
                self._buffer, self._skipping = b"", True

    def _line(self, line: bytes) -> None:
        token = self.token.encode()
        line = line.strip()
        if len(line) > MAX_RECORD_BYTES or not (
            line.startswith(token + b":") and line.endswith(b":" + token)
        ):
            return
        self.records += 1
        from grading.compare import json_shape_ok

        try:
            raw = base64.b64decode(line[len(token) + 1 : -len(token) - 1], validate=True)
            if not json_shape_ok(raw):
                return
            record = json.loads(raw)
        except (binascii.Error, ValueError, RecursionError):
            return
        if self._apply(record):
            self.version += 1

    def _apply(self, record: Any) -> bool:
        if not isinstance(record, dict):
            return False
        index = record.get("net")
        if not isinstance(index, int) or isinstance(index, bool):
            return False
        if not 0 <= index < len(self.networks):
            return False
        net = self.networks[index]
        if net["state"] in ("done", "failed"):
            return False
        if "grad_norms" in record:
            norms = record["grad_norms"]
            if net["grad_norms"] or not isinstance(norms, list) or len(norms) > net["blocks"]:
                return False
            net["grad_norms"] = [_number(v) for v in norms]
            net["state"] = "running"
            return True
        if "step" in record:
            step = record["step"]
            if not isinstance(step, int) or isinstance(step, bool):
                return False
            if not net["step"] < step <= net["steps"] or len(net["train_loss"]) >= self.points:
                return False
            net["step"] = step
            net["train_loss"].append(_number(record.get("loss")))
            net["train_error"].append(_number(record.get("err")))
            net["state"] = "running"
            return True
        if record.get("done") is True or record.get("failed") is True:
            net["state"] = "done" if record.get("done") is True else "failed"
            return True
        return False

    def snapshot(self) -> dict[str, Any]:
        """What the worker stores on the LabRun: plain JSON, a copy."""
        with self._lock:
            networks = copy.deepcopy(self.networks)
        for net in networks:
            net.pop("blocks")
        return {"points": self.points, "networks": networks}
