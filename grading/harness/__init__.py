"""The in-sandbox harness, kept as plain files so that they can be sent into a job as bytes.

`harness.py` is the program the job runs; it loads `probes.py` (what is measured) and
`fixtures.py` (seeded weights, the probe ResNet) by path, before the candidate's code is
imported, and deletes all three from disk. They may import only the standard library,
numpy and torch. The engine also loads them here, outside the sandbox, to measure the
reference solutions with exactly the same probe code the candidate's solution meets inside.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from types import ModuleType

HARNESS_DIR = Path(__file__).resolve().parent
HARNESS_PATH = HARNESS_DIR / "harness.py"
# Every file of the harness, as the job carries it: harness.py loads the other two.
HARNESS_FILES = ("harness.py", "probes.py", "fixtures.py")


def harness_files() -> dict[str, bytes]:
    """The harness's files by name, for a job's folder."""
    return {name: (HARNESS_DIR / name).read_bytes() for name in HARNESS_FILES}


@functools.cache
def harness_module() -> ModuleType:
    """The harness imported as a module (its `main` runs only as a script)."""
    spec = importlib.util.spec_from_file_location("grading_harness", HARNESS_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def probes_module() -> ModuleType:
    """The probes as the harness loaded them: `measure` runs a plan's probes."""
    return harness_module().probes


def fixtures_module() -> ModuleType:
    """The fixtures as the probes loaded them: seeded weights, the probe ResNet."""
    return harness_module().probes.fixtures
