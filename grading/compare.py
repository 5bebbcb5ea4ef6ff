"""Reading what came out of the sandbox, and comparing it with the reference.

Nothing from the sandbox is trusted beyond being bytes: the frame must carry this run's
nonce exactly once, sizes are bounded, and every field is type- and shape-checked where it
is used. A missing or malformed measurement raises `Missing`, which fails that test only.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

import numpy as np

MAX_RESULT_BYTES = 24 * 1024 * 1024  # the base64 body; generous over the largest plan (~2 MB)
MAX_ARRAY_ELEMENTS = 1 << 21


class Missing(Exception):
    """A measurement that should be there is absent or malformed: the test fails closed."""


class Unusable(Missing):
    """A measurement came back but cannot be used; the message tells the learner why."""


MAX_JSON_DEPTH = 32  # the harness nests 6 deep at most
MAX_JSON_CONTAINERS = 200_000  # lists and objects in one frame; a real plan has a few hundred
_BRACKETS = bytes(range(256)).translate(None, b"[]{}")  # every byte but the four brackets


class Malformed:
    """Stands where a malformed array was: only the checks that read it fail."""

    def __init__(self, why: str) -> None:
        self.why = why

    def __repr__(self) -> str:
        return f"Malformed({self.why!r})"


def json_shape_ok(text: bytes) -> bool:
    """True when the JSON's nesting depth and container count are within bounds.

    Counted over the brackets before parsing, so a hostile frame (megabytes of `[[[[`)
    costs a linear scan, not a parse. Brackets inside strings count too: the harness only
    writes names and base64 there, so an honest frame never has them, and an over-count
    can only refuse, never accept.
    """
    brackets = text.translate(None, _BRACKETS)
    if (brackets.count(b"[") + brackets.count(b"{")) > MAX_JSON_CONTAINERS:
        return False
    depth = 0
    for byte in brackets:
        depth += 1 if byte in (0x5B, 0x7B) else -1
        if depth > MAX_JSON_DEPTH:
            return False
    return True


def parse_frame(stdout: bytes, nonce: str) -> dict | None:
    """The measurements in the one frame carrying `nonce`; None when there is not exactly one.

    Never raises: whatever bytes the sandbox sent, the worker gets a dict or None. Bounds
    (size, depth, container count) are checked before anything is parsed.
    """
    try:
        token = nonce.encode("ascii")
        if stdout.count(token) != 2:
            return None
        start = stdout.index(token) + len(token)
        end = stdout.index(token, start)
        body = stdout[start:end]
        if not (body.startswith(b":") and body.endswith(b":")) or len(body) > MAX_RESULT_BYTES:
            return None
        raw = base64.b64decode(body[1:-1], validate=True)
        if not json_shape_ok(raw):
            return None
        data = json.loads(raw)
        if not isinstance(data, dict) or not isinstance(data.get("probes"), dict):
            return None
        return decode(data)
    except (binascii.Error, ValueError, RecursionError, MemoryError, Missing, TypeError):
        return None


def decode(value: Any) -> Any:
    """Undo the harness's `encode`: arrays come back as numpy arrays, checked for size.

    A malformed array or float becomes a `Malformed` in its place, so one bad measurement
    fails the checks that read it and nothing else.
    """
    if isinstance(value, dict):
        if "__nd__" in value:
            try:
                return _decode_array(value)
            except (Missing, binascii.Error, ValueError, TypeError, OverflowError) as exc:
                return Malformed(str(exc)[:100])
        if "__float__" in value:
            text = value["__float__"]
            if text not in ("nan", "inf", "-inf"):
                return Malformed("bad float")
            return float(text)
        return {str(k): decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


_DTYPES = {"<f8": 8, "<i8": 8, "<f4": 4}


def _decode_array(value: dict) -> np.ndarray:
    shape, dtype, b64 = value.get("__nd__"), value.get("dtype"), value.get("b64")
    if not (isinstance(shape, list) and len(shape) <= 8):
        raise Missing("bad shape")
    if not all(type(s) is int and 0 <= s <= MAX_ARRAY_ELEMENTS for s in shape):
        raise Missing("bad shape")
    if dtype not in _DTYPES or not isinstance(b64, str):
        raise Missing("bad array")
    count = math.prod(shape)
    if count > MAX_ARRAY_ELEMENTS:
        raise Missing("array too large")
    if len(b64) > (count * _DTYPES[dtype] + 2) // 3 * 4 + 4:
        raise Missing("array size does not match its shape")
    raw = base64.b64decode(b64, validate=True)
    if len(raw) != count * _DTYPES[dtype]:
        raise Missing("array size does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(np.float64)


# ------------------------------------------------------------------ typed access


def probe(results: dict, probe_id: str) -> dict:
    got = results.get(probe_id)
    if not isinstance(got, dict):
        raise Missing(probe_id)
    return got


def raised(result: dict) -> str:
    """The candidate's exception for this probe, as the learner should see it ('' if none)."""
    errors = result.get("errors")
    if not isinstance(errors, dict):
        return ""
    for step in ("build", "call", "load", "forward", "structure", "jacobian", "probe"):
        text = errors.get(step)
        if isinstance(text, str) and text:
            return f"{_STEP_WORDS[step]}: {text[:300]}"
    return ""


_STEP_WORDS = {
    "build": "building the module raised",
    "call": "calling your function raised",
    "load": "loading the state dict (strict) failed",
    "forward": "the forward or backward pass raised",
    "structure": "counting parameters raised",
    "jacobian": "computing the Jacobian raised",
    "probe": "the test could not run",
}


def array(result: dict, key: str) -> np.ndarray:
    value = result.get(key)
    if not isinstance(value, np.ndarray) or not np.all(np.isfinite(value)):
        raise Missing(key)
    return value


def integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Missing("integer")
    return value


def float_value(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise Missing("number")
    return float(value)


def int_map(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise Missing("mapping")
    return {str(k): integer(v) for k, v in value.items()}


def shape_map(value: Any) -> dict[str, tuple[int, ...]]:
    if not isinstance(value, dict):
        raise Missing("mapping")
    out = {}
    for k, v in value.items():
        if not isinstance(v, list):
            raise Missing("shape")
        out[str(k)] = tuple(integer(s) for s in v)
    return out


# ------------------------------------------------------------------ comparisons


def close(got: np.ndarray, want: np.ndarray, *, rtol: float, atol: float) -> tuple[bool, str]:
    """Compare arrays; the message gives the size of the error, never the expected values."""
    if got.shape != want.shape:
        return False, f"shape {tuple(got.shape)} where {tuple(want.shape)} was expected"
    diff = np.abs(got - want)
    bound = atol + rtol * np.abs(want)
    if np.all(diff <= bound):
        return True, f"max abs error {float(diff.max(initial=0.0)):.1e}"
    bad = int(np.count_nonzero(diff > bound))
    return False, (
        f"{bad} of {diff.size} values are off (max abs error {float(diff.max()):.2e}, "
        f"tolerance {atol:.0e} + {rtol:.0e}*|expected|)"
    )


def close_scaled(got: np.ndarray, want: np.ndarray, tol: dict) -> tuple[bool, str]:
    """Like compare.close; `atol_of_max` scales the absolute part by the array's size."""
    if got.shape != want.shape:
        return False, f"shape {tuple(got.shape)} where {tuple(want.shape)} was expected"
    scale = float(np.abs(want).max(initial=0.0))
    atol = tol.get("atol", 0.0) + tol.get("atol_of_max", 0.0) * scale
    diff = np.abs(got - want)
    bound = atol + tol["rtol"] * np.abs(want)
    if np.all(diff <= bound):  # NaN fails here too
        return True, f"max abs error {float(diff.max(initial=0.0)):.1e}"
    bad = int(np.count_nonzero(~(diff <= bound)))
    return (
        False,
        f"{bad} of {diff.size} values are off (max abs error {float(np.nanmax(diff)):.2e})",
    )


def fmt_shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"
