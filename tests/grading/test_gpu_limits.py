"""GPU limits without a GPU: the harness bounds GPU memory before the candidate's code is
imported, and running out of GPU memory ends the run as the memory limit.

torch on this machine has no CUDA, so the GPU is a stand-in: a wrapper that makes torch
report CUDA and records the calls the harness makes, and code that raises the error CUDA
raises when its memory runs out. That CUDA honours the fraction needs a real GPU
(benchmarks/gpu_check.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grading import engine
from grading.compare import parse_frame
from grading.harness import harness_files

WRAPPER = """
import runpy, sys, torch
calls = []
torch.cuda.is_available = lambda: True
torch.cuda.device_count = lambda: 2
torch.cuda.set_per_process_memory_fraction = lambda share, device=None: calls.append([share, device])
torch.cuda.recorded = calls
sys.argv = ["harness.py"]
runpy.run_path("harness.py", run_name="__main__")
"""

SOLUTION = """
import torch
AT_IMPORT = [list(call) for call in torch.cuda.recorded]  # what was set before this ran
def seen():
    return AT_IMPORT
"""


def _run_harness(tmp_path: Path, env: dict[str, str]) -> dict:
    for name, data in harness_files().items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "wrapper.py").write_text(WRAPPER)
    (tmp_path / "solution.py").write_text(SOLUTION)
    plan = {"nonce": "n0nce", "probes": [{"id": "c", "kind": "call", "fn": "seen"}]}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    import numpy as np

    np.savez(tmp_path / "inputs.npz", unused=np.zeros(1))
    done = subprocess.run([sys.executable, "wrapper.py"], cwd=tmp_path, capture_output=True,
                          timeout=120, env={**os.environ, **env})  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    frame = parse_frame(done.stdout, "n0nce")
    assert frame is not None
    return frame


def test_the_harness_sets_the_gpu_memory_share_before_importing_the_candidate(
    tmp_path: Path,
) -> None:
    frame = _run_harness(tmp_path, {"SANDBOX_GPU_MEMORY_FRACTION": "0.25"})
    value = frame["probes"]["c"]["value"]
    calls = [[item["float"] if "float" in item else item["int"] for item in pair["seq"]]
             for pair in value["seq"]]  # fmt: skip
    assert calls == [[0.25, 0], [0.25, 1]]  # every visible GPU, before solution.py ran
    assert frame["cuda_oom"] is False


def test_without_a_share_from_the_sandbox_nothing_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SANDBOX_GPU_MEMORY_FRACTION", raising=False)
    frame = _run_harness(tmp_path, {})
    assert frame["probes"]["c"]["value"] == {"seq": []}


SE_OOM = """
import torch
import torch.nn as nn


class SEBlock(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        self.fc1 = nn.Linear(channels, channels // reduction)
        self.fc2 = nn.Linear(channels // reduction, channels)

    def forward(self, x):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB")
"""


@pytest.mark.docker
@pytest.mark.parametrize("where", ["forward", "import"])
def test_running_out_of_gpu_memory_is_the_memory_limit(sandbox_image: str, where: str) -> None:
    source = SE_OOM
    if where == "import":
        source += "\nraise torch.cuda.OutOfMemoryError('CUDA out of memory')\n"
    verdict = engine.grade(exercise="se-block", source=source, sample=True, backend="docker",
                           image=sandbox_image)  # fmt: skip
    assert (verdict.status, verdict.error_kind) == ("error", "memory")
    assert all("GPU's memory" in t.message for t in verdict.tests)
