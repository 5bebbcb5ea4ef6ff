"""benchmarks/gpu_check.py on a machine without a GPU: it says so and does a dry run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_without_a_gpu_the_check_says_so_and_runs_the_device_tests_on_the_cpu(
    tmp_path: Path,
) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the check runs for real (see the benchmark)")
    out = tmp_path / "rows.json"
    done = subprocess.run(
        [sys.executable, "benchmarks/gpu_check.py", "--only", "se-block", "--seed", "4",
         "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no GPU" in done.stdout and "dry run" in done.stdout
    report = json.loads(out.read_text())
    assert report["device"] == "cpu"
    assert [r["solution"] for r in report["rows"]] == [
        "reference", "wrong_guarded_cuda", "wrong_no_device",
    ]  # fmt: skip
    assert all(r["passed"] == r["total"] > 0 and r["as_expected"] for r in report["rows"])
