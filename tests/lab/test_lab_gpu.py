"""A lab on a GPU worker trains on the GPU or fails, never quietly on the CPU.

No GPU here: the device path is checked with stand-in /dev/nvidia* nodes (root's mknod)
so that the sandbox really hands "a GPU" to the job, whose torch then finds no usable
CUDA device; the real CUDA run is for benchmarks/lab.py on a GPU host.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch

from lab import services

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = (ROOT / "grading/exercises/basic_block/reference.py").read_text()
TINY = {"ns": [1], "steps": 10, "batch": 16, "lr": 0.05, "every": 5, "seed": 3}


def test_a_cuda_lab_asks_the_sandbox_for_this_workers_gpus(settings) -> None:
    settings.SANDBOX_GPUS = "none"
    assert services.lab_limits().gpus == "none"
    assert services.lab_limits(device="cuda").gpus == "all"
    settings.SANDBOX_GPUS = "1"
    assert services.lab_limits(device="cuda").gpus == "1"


def test_the_harness_puts_network_and_data_on_the_asked_device(monkeypatch) -> None:
    """run_one moves everything to settings["device"]; with "meta" (a device with no data)
    every tensor op would fail if anything stayed on the CPU by mistake, so instead the
    CPU run is compared with itself: same seed, same batches, same curve."""
    import importlib.util

    from grading.exercises.basic_block.reference import BasicBlock

    spec = importlib.util.spec_from_file_location("lab_harness", services.HARNESS)
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    moved: list[str] = []
    real_to = torch.Tensor.to

    def spy(self, *args, **kwargs):
        moved.append(str(args[0]) if args else str(kwargs.get("device")))
        return real_to(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "to", spy)
    config = {**TINY, "classes": 10, "device": "cpu"}
    first = harness.run_one(BasicBlock, 1, services.digits(), config, 3)
    assert moved and set(moved) == {"cpu"}  # inputs, labels and every batch's indices
    second = harness.run_one(BasicBlock, 1, services.digits(), config, 3)
    assert first["train_loss"] == second["train_loss"]


@pytest.mark.docker
def test_a_cuda_lab_without_a_usable_gpu_fails_as_our_side(
    sandbox_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings
) -> None:
    if os.geteuid() != 0:
        pytest.skip("mknod of stand-in device nodes needs root")
    for name, (major, minor) in {"nvidia0": (195, 0), "nvidiactl": (195, 255),
                                 "nvidia-uvm": (509, 0)}.items():  # fmt: skip
        os.mknod(tmp_path / name, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
    (tmp_path / "libcuda.so.1").write_text("stand-in")
    monkeypatch.setenv("SANDBOX_GPU_DEV_ROOT", str(tmp_path))
    monkeypatch.setenv("SANDBOX_GPU_LIBRARY_DIRS", str(tmp_path))
    monkeypatch.setenv("SANDBOX_GPU_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.setenv("SANDBOX_GPU_PATH", "devices")
    settings.SANDBOX_GPUS = "0"
    result, problem, _ = services.lab_execute(
        code=REFERENCE, exercise="basic-block", settings_=TINY, backend="docker",
        image=sandbox_image, device="cuda",
    )  # fmt: skip
    assert result is None
    assert problem == "This worker's GPU could not be used (our side); run the lab again."
    # The same lab asked on the CPU runs.
    result, problem, _ = services.lab_execute(
        code=REFERENCE, exercise="basic-block", settings_=TINY, backend="docker",
        image=sandbox_image,
    )  # fmt: skip
    assert result is not None, problem
