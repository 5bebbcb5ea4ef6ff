"""The sandbox image: its content-addressed tag, and how it is built.

The tag carries a hash of everything that goes into the image (the Dockerfile, the
requirements, the base and the torch build), so an image built from an older recipe is
detected as stale. Two torch builds of the same version exist: ``cpu`` (the default, the
worker's own wheel) and ``cuda`` for GPU hosts (``resnet-sandbox:<hash>-cuda``, chosen by
SANDBOX_TORCH=cuda or named by SANDBOX_IMAGE).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPOSITORY = "resnet-sandbox"
OFFLINE_BASE = "resnet-sandbox-base:bookworm"
REGISTRY_BASE = "python:3.11-slim"
TORCH_BUILDS = ("cpu", "cuda")
# Where pip finds torch's CUDA wheels: PyTorch's index for one CUDA release. It must serve
# the version in requirements.txt; SANDBOX_TORCH_CUDA_INDEX names another (a mirror, or a
# newer CUDA release).
CUDA_INDEX = "https://download.pytorch.org/whl/cu128"
PYPI = "https://pypi.org/simple"


def recipe_hash(*, base: str = OFFLINE_BASE, torch: str = "cpu") -> str:
    digest = hashlib.sha256()
    for name in ("Dockerfile", "requirements.txt"):
        digest.update(name.encode() + b"\0" + (HERE / name).read_bytes() + b"\0")
    digest.update(base.encode())
    if torch != "cpu":  # the CPU image keeps the tag it always had
        digest.update(b"\0torch=" + torch.encode())
    return digest.hexdigest()[:12]


def image_tag(*, base: str = OFFLINE_BASE, torch: str | None = None) -> str:
    """The tag of the image for this recipe; `torch` defaults to SANDBOX_TORCH (cpu)."""
    torch = torch or os.environ.get("SANDBOX_TORCH", "cpu").strip() or "cpu"
    if torch not in TORCH_BUILDS:
        raise ValueError(f"SANDBOX_TORCH={torch!r}: use one of {TORCH_BUILDS}")
    suffix = "" if torch == "cpu" else f"-{torch}"
    return f"{REPOSITORY}:{recipe_hash(base=base, torch=torch)}{suffix}"


def download_command(wheels: Path, *, torch: str = "cpu") -> list[str]:
    """pip's command that puts every wheel the image installs into `wheels`."""
    command = [
        sys.executable, "-m", "pip", "download", "--quiet",
        "--only-binary=:all:", "--python-version", "3.11",
        "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64",
        "--platform", "manylinux2014_x86_64", "--platform", "any",
        "-d", str(wheels), "-r", str(HERE / "requirements.txt"),
    ]  # fmt: skip
    if torch == "cuda":
        # The same torch version, its +cuXXX build and the nvidia-* wheels it requires;
        # numpy and the rest still come from PyPI.
        index = os.environ.get("SANDBOX_TORCH_CUDA_INDEX", CUDA_INDEX)
        command += ["--index-url", index, "--extra-index-url", PYPI]
    return command


def build_command(context: Path, tag: str, *, base: str, torch: str,
                  pip_flags: str | None = None) -> list[str]:  # fmt: skip
    command = ["docker", "build", "-t", tag, "--build-arg", f"BASE={base}"]
    command += ["--build-arg", f"TORCH={torch}"]
    if pip_flags is None:
        command[2:2] = ["--network", "none"]
    else:
        command += ["--build-arg", f"PIP_FLAGS={pip_flags}"]
    return [*command, str(context)]


def build_image(
    *, base: str = OFFLINE_BASE, pip_flags: str | None = None, torch: str = "cpu"
) -> str:
    """Build the image with the docker CLI and return its tag.

    The wheels are downloaded on this host (pip honours its own configuration, such as a
    local wheel folder) and copied into the build context, so the build itself needs no
    network: the engine here runs without a bridge. `torch="cuda"` builds the GPU hosts'
    image: the same torch version, built for CUDA (several GB of wheels).
    """
    tag = image_tag(base=base, torch=torch)
    with tempfile.TemporaryDirectory(prefix="sandbox-image-") as tmp:
        context = Path(tmp)
        shutil.copy(HERE / "Dockerfile", context / "Dockerfile")
        shutil.copy(HERE / "requirements.txt", context / "requirements.txt")
        wheels = context / "wheels"
        wheels.mkdir()
        if pip_flags is None:
            subprocess.run(download_command(wheels, torch=torch), check=True)
        subprocess.run(
            build_command(context, tag, base=base, torch=torch, pip_flags=pip_flags), check=True
        )
    return tag
