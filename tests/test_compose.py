"""docker-compose.yml wires each worker to the sandbox image its host can run.

CI validates the file with `docker-compose config`; this checks what that cannot: that
the GPU worker takes GPU work with a CUDA build of torch, and that the images the file
builds say which torch build they are (the sandbox Dockerfile fails a build whose wheel
is not that build).
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_the_gpu_worker_runs_cuda_sandboxes_on_the_gpu_queue() -> None:
    worker = _services()["worker-gpu"]
    env = worker["environment"]
    assert env["SANDBOX_TORCH"] == "cuda" and env["GRADING_GPU"] == "1"
    assert "cuda" in env["SANDBOX_IMAGE"]
    assert "-Q grade.gpu" in worker["command"]


def test_cpu_workers_keep_the_cpu_image() -> None:
    services = _services()
    for name in ("worker-cpu", "worker-lab"):
        assert "SANDBOX_TORCH" not in (services[name].get("environment") or {}), name


def test_each_built_sandbox_image_names_its_torch_build_and_index() -> None:
    services = _services()
    for name, torch, index in (
        ("sandbox-image", "cpu", "whl/cpu"),
        ("sandbox-image-cuda", "cuda", "whl/cu"),
    ):
        args = services[name]["build"]["args"]
        assert args["TORCH"] == torch and index in args["PIP_FLAGS"], name
    gpu_image = services["worker-gpu"]["environment"]["SANDBOX_IMAGE"]
    assert services["sandbox-image-cuda"]["image"] == gpu_image
