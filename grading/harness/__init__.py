"""The in-sandbox harness, kept as a plain file so that it can be sent into a job as bytes.

`harness.py` may import only the standard library, numpy and torch. The engine also loads
it here, outside the sandbox, to measure the reference solutions with exactly the same
probe code the candidate's solution meets inside.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from types import ModuleType

HARNESS_PATH = Path(__file__).resolve().parent / "harness.py"


def harness_source() -> bytes:
    return HARNESS_PATH.read_bytes()


@functools.cache
def harness_module() -> ModuleType:
    """The harness imported as a module (its `main` runs only as a script)."""
    spec = importlib.util.spec_from_file_location("grading_harness", HARNESS_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
