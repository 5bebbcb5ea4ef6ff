"""Progress records from the sandbox: untrusted, bounded, only ever partial curves.

LabProgress is fed the way a backend feeds it (chunks split anywhere); records are made
by the harness's own writer, then tampered with the way a hostile block could.
"""

from __future__ import annotations

import base64
import json
import os

from lab.progress import MAX_RECORD_BYTES, MAX_RECORDS, LabProgress
from tests.lab.test_lab import _harness

PLAN = {"ns": [1, 3], "steps": 40, "every": 10}


def frame(token: str, record: object) -> bytes:
    body = base64.b64encode(json.dumps(record).encode()).decode()
    return f"\n{token}:{body}:{token}\n".encode()


def test_the_harness_records_fed_in_odd_chunks_build_the_partial_curves():
    progress = LabProgress(PLAN)
    read, write = os.pipe()
    writer = _harness().Progress(write, progress.token)
    writer({"net": 0, "grad_norms": [0.5, 0.25, 0.125]})
    writer({"net": 0, "step": 10, "loss": 2.3, "err": 0.9})
    writer({"net": 0, "step": 20, "loss": float("nan"), "err": 0.5})
    writer({"net": 1, "failed": True})
    os.close(write)
    stream = os.read(read, 1 << 16)
    os.close(read)
    for at in range(0, len(stream), 7):  # chunks split inside records
        progress.feed(stream[at : at + 7])
    snap = progress.snapshot()
    assert snap["points"] == 4
    first, second = snap["networks"][0], snap["networks"][1]
    assert (first["kind"], first["layers"], first["state"]) == ("plain", 8, "running")
    assert first["grad_norms"] == [0.5, 0.25, 0.125]
    assert first["train_loss"] == [2.3, None] and first["step"] == 20
    assert second["state"] == "failed" and [n["layers"] for n in snap["networks"]] == [8, 8, 20, 20]


def test_what_the_worker_knows_comes_from_the_plan_and_bad_records_are_dropped():
    progress = LabProgress(PLAN)
    t = progress.token
    bad = [
        frame(t, {"net": 0, "kind": "residual", "layers": 56, "steps": 10**9}),  # names nothing
        frame(t, {"net": 4, "step": 10, "loss": 1.0}),  # no such network
        frame(t, {"net": True, "step": 10, "loss": 1.0}),
        frame(t, {"net": 0, "step": 41, "loss": 1.0}),  # past the budget
        frame(t, {"net": 0, "step": 10.0, "loss": 1.0}),
        frame(t, {"net": 0, "grad_norms": [1.0] * 4}),  # an 8-layer net has 3 blocks
        frame(t, [1, 2]),
        frame("0" * 32, {"net": 0, "step": 10, "loss": 1.0}),  # another token
        f"\n{t}:not base64!:{t}\n".encode(),
        f"\n{t}:{base64.b64encode(b'[' * 5000).decode()}:{t}\n".encode(),  # too long/deep
        b"x" * (3 * MAX_RECORD_BYTES) + frame(t, {"net": 0, "step": 10, "loss": 9.0})[1:],
    ]
    for chunk in bad:
        progress.feed(chunk)
    assert progress.version == 0
    progress.feed(frame(t, {"net": 0, "step": 20, "loss": 1.0, "err": "0.1"}))
    progress.feed(frame(t, {"net": 0, "step": 10, "loss": 1.0}))  # steps only go forward
    progress.feed(frame(t, {"net": 0, "done": True}))
    progress.feed(frame(t, {"net": 0, "step": 30, "loss": 1.0}))  # a finished network
    net = progress.snapshot()["networks"][0]
    assert (net["kind"], net["layers"], net["steps"]) == ("plain", 8, 40)
    assert net["train_loss"] == [1.0] and net["train_error"] == [None]
    assert net["state"] == "done" and progress.version == 2


def test_no_more_than_max_records_are_read_and_the_buffer_stays_short():
    progress = LabProgress({"ns": [1], "steps": 10**6, "every": 1})
    t = progress.token
    flood = b"".join(frame(t, {"net": 0, "step": s, "loss": 1.0}) for s in range(1, 6001))
    progress.feed(flood)
    assert progress.records == MAX_RECORDS
    assert len(progress.snapshot()["networks"][0]["train_loss"]) == MAX_RECORDS
    progress.feed(b"y" * 10**6)  # no newline: not kept
    assert len(progress._buffer) <= MAX_RECORD_BYTES
