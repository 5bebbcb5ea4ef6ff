"""The sandbox image: its content-addressed tag, and how it is built.

The tag carries a hash of everything that goes into the image (the Dockerfile, the
requirements and the base), so an image built from an older recipe is detected as stale.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPOSITORY = "resnet-sandbox"
OFFLINE_BASE = "resnet-sandbox-base:bookworm"
REGISTRY_BASE = "python:3.11-slim"


def recipe_hash(*, base: str = OFFLINE_BASE) -> str:
    digest = hashlib.sha256()
    for name in ("Dockerfile", "requirements.txt"):
        digest.update(name.encode() + b"\0" + (HERE / name).read_bytes() + b"\0")
    digest.update(base.encode())
    return digest.hexdigest()[:12]


def image_tag(*, base: str = OFFLINE_BASE) -> str:
    return f"{REPOSITORY}:{recipe_hash(base=base)}"


def build_image(*, base: str = OFFLINE_BASE, pip_flags: str | None = None) -> str:
    """Build the image with the docker CLI and return its tag.

    The wheels are downloaded on this host (pip honours its own configuration, such as a
    local wheel folder) and copied into the build context, so the build itself needs no
    network: the engine here runs without a bridge.
    """
    tag = image_tag(base=base)
    with tempfile.TemporaryDirectory(prefix="sandbox-image-") as tmp:
        context = Path(tmp)
        shutil.copy(HERE / "Dockerfile", context / "Dockerfile")
        shutil.copy(HERE / "requirements.txt", context / "requirements.txt")
        wheels = context / "wheels"
        wheels.mkdir()
        if pip_flags is None:
            subprocess.run(
                [
                    sys.executable, "-m", "pip", "download", "--quiet",
                    "--only-binary=:all:", "--python-version", "3.11",
                    "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64",
                    "--platform", "manylinux2014_x86_64", "--platform", "any",
                    "-d", str(wheels), "-r", str(HERE / "requirements.txt"),
                ],
                check=True,
            )  # fmt: skip
        command = ["docker", "build", "--network", "none", "-t", tag, "--build-arg", f"BASE={base}"]
        if pip_flags is not None:
            command = ["docker", "build", "-t", tag, "--build-arg", f"BASE={base}"]
            command += ["--build-arg", f"PIP_FLAGS={pip_flags}"]
        subprocess.run([*command, str(context)], check=True)
    return tag
