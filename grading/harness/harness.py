"""The grading harness: runs inside the sandbox, next to the candidate's solution.py.

It measures and reports; it never judges. It reads plan.json (the probes and a per-run
nonce) and inputs.npz (secret inputs and weights, loaded with allow_pickle=False), deletes
them and itself from disk, hides the real stdout on a private descriptor, imports the
candidate's code, runs every probe, and writes exactly one framed result:

    <nonce>:<base64 of the JSON measurements>:<nonce>

Expected values are computed outside with the reference solution, so a forged frame would
have to contain the right answers. Only the standard library, numpy and torch are used.
The probes live in probes.py and what they build from in fixtures.py; this file loads
them by path before the candidate's code is imported, and deletes them with itself. The
engine also imports this file to measure the reference with the same probe code.
"""

from __future__ import annotations

import base64
import gc
import importlib.util
import json
import math
import os
import sys
import traceback
from types import ModuleType

import numpy as np
import torch


def _sibling(filename: str) -> ModuleType:
    """A file next to this one, loaded by its path: in the sandbox `python -I` puts no
    folder of the job on sys.path, and nothing the candidate wrote can stand in for it."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), filename)
    spec = importlib.util.spec_from_file_location("harness_" + filename[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


probes = _sibling("probes.py")
measure = probes.measure


# ---------------------------------------------------------------------------- framing


def encode(value):
    """JSON-able data; float arrays as base64 of little-endian float64 bytes with a shape."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "iub":
            arr = np.ascontiguousarray(value, dtype="<i8")
            dtype = "<i8"
        elif value.dtype == np.float32:  # initialised weights: half the bytes, exact
            arr = np.ascontiguousarray(value, dtype="<f4")
            dtype = "<f4"
        else:
            arr = np.ascontiguousarray(value, dtype="<f8")
            dtype = "<f8"
        return {
            "__nd__": [int(s) for s in arr.shape],
            "dtype": dtype,
            "b64": base64.b64encode(arr.tobytes()).decode("ascii"),
        }
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": repr(value)}
    return value


def frame(nonce: str, payload: dict) -> bytes:
    body = base64.b64encode(json.dumps(encode(payload)).encode()).decode("ascii")
    return f"\n{nonce}:{body}:{nonce}\n".encode("ascii")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def bound_gpu_memory() -> float | None:
    """Cap this process's share of each GPU's memory, before the candidate's code runs.

    The sandbox says the share (SANDBOX_GPU_MEMORY_FRACTION, 1 / jobs per device). It
    guards against accidents, not against intent: code in this process can raise it
    again. A hard bound is the host's (MIG or MPS limits; README, "GPU sandboxes").
    """
    share = os.environ.get("SANDBOX_GPU_MEMORY_FRACTION")
    if not share or not torch.cuda.is_available():
        return None
    for index in range(torch.cuda.device_count()):
        torch.cuda.set_per_process_memory_fraction(float(share), index)
    return float(share)


def main() -> int:
    with open("plan.json", "rb") as f:
        plan = json.loads(f.read())
    with np.load("inputs.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    own = [os.path.basename(m.__file__) for m in (probes.fixtures, probes)]
    for name in ("plan.json", "inputs.npz", *own, os.path.basename(__file__)):
        try:
            os.unlink(name)
        except OSError:
            pass
    nonce = plan.pop("nonce")
    # The real stdout moves to a private descriptor; whatever the candidate prints lands
    # on stderr, so nothing it writes can pass for the result frame.
    result_fd = os.dup(1)
    os.dup2(2, 1)
    torch.set_num_threads(1)
    # Everything alive now (torch, numpy, the harness: about a million objects) lives to
    # the end of this one-shot process: out of the collector's sight, a full collection
    # while the probes build networks takes milliseconds instead of some 50 ms each.
    gc.freeze()
    # Device tests need the GPU the sandbox was to give. Without it nothing of the
    # candidate's runs: the worker reports our failure, never a CPU run in its place.
    devices = {str(p.get("device", "cpu")) for p in plan["probes"]}
    if any(d.startswith("cuda") for d in devices) and not torch.cuda.is_available():
        _write_all(result_fd, frame(nonce, {"probes": {}, "device_unavailable": True}))
        return 0
    bound_gpu_memory()
    # Full float32 on the GPU: TF32 would round convolutions and matmuls to 10 bits.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

    spec = importlib.util.spec_from_file_location("solution", "solution.py")
    solution = importlib.util.module_from_spec(spec)
    sys.modules["solution"] = solution
    try:
        spec.loader.exec_module(solution)
    except BaseException as exc:
        traceback.print_exc()
        sys.stderr.flush()
        if not isinstance(exc, torch.cuda.OutOfMemoryError):
            return 1
        probes._CUDA_OOM[0] = True
        results = {}
    else:
        results = measure(plan["probes"], arrays, solution)
    sys.stdout.flush()
    sys.stderr.flush()
    _write_all(result_fd, frame(nonce, {"probes": results, "cuda_oom": probes._CUDA_OOM[0]}))
    os.close(result_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
