"""The sandbox image's recipe: one tag per torch build, and how each is built."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.image import CUDA_INDEX, build_command, download_command, image_tag

ROOT = Path(__file__).resolve().parents[2]


def test_the_cuda_build_has_its_own_tag_and_the_worker_picks_it_by_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SANDBOX_TORCH", raising=False)
    cpu, cuda = image_tag(), image_tag(torch="cuda")
    assert cpu.startswith("resnet-sandbox:") and not cpu.endswith("-cuda")
    assert cuda.endswith("-cuda") and cuda.split(":")[1][:12] != cpu.split(":")[1]
    monkeypatch.setenv("SANDBOX_TORCH", "cuda")
    assert image_tag() == cuda
    from sandbox.backends import backend_status

    assert backend_status("none")["image"] == cuda  # what /healthz expects to find
    monkeypatch.setenv("SANDBOX_TORCH", "rocm")
    with pytest.raises(ValueError, match="SANDBOX_TORCH"):
        image_tag()


def test_the_cuda_build_downloads_the_same_torch_version_from_the_cuda_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SANDBOX_TORCH_CUDA_INDEX", raising=False)
    cpu = download_command(tmp_path, torch="cpu")
    cuda = download_command(tmp_path, torch="cuda")
    assert "--index-url" not in cpu
    assert cuda[: len(cpu)] == cpu  # the same requirements file: the same torch version
    assert cuda[cuda.index("--index-url") + 1] == CUDA_INDEX
    monkeypatch.setenv("SANDBOX_TORCH_CUDA_INDEX", "http://mirror.invalid/cu126")
    command = download_command(tmp_path, torch="cuda")
    assert command[command.index("--index-url") + 1] == "http://mirror.invalid/cu126"
    build = build_command(tmp_path, "t:1-cuda", base="b", torch="cuda")
    assert "TORCH=cuda" in build and build[2:4] == ["--network", "none"]
    assert "TORCH=cpu" in build_command(tmp_path, "t:1", base="b", torch="cpu")


def test_the_dockerfile_refuses_a_torch_that_is_not_the_build_asked_for() -> None:
    text = (ROOT / "sandbox" / "Dockerfile").read_text()
    assert "ARG TORCH=cpu" in text
    assert "torch.version.cuda is not None) == ('${TORCH}' == 'cuda')" in text


def test_the_command_line_offers_the_torch_build() -> None:
    done = subprocess.run([sys.executable, "-m", "sandbox", "build-image", "--help"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)  # fmt: skip
    assert "--torch {cpu,cuda}" in done.stdout
    assert "TORCH ?= cpu" in (ROOT / "Makefile").read_text()
    assert "--torch $(TORCH)" in (ROOT / "Makefile").read_text()
