"""Choosing a backend, reporting on them for /healthz, and cleaning up after a dead worker."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from typing import Any, Protocol

from sandbox.image import REPOSITORY, image_tag
from sandbox.types import Job, Limits, RunResult, SandboxUnavailable

PREFERENCES = ("auto", "docker", "bwrap", "none")
HOW_TO_ENABLE = (
    "start a Docker engine and build the image (make sandbox-image), "
    "or install bubblewrap on Linux (apt-get install bubblewrap)"
)


class Backend(Protocol):
    name: str
    image: str | None

    def run(self, job: Job, limits: Limits) -> RunResult: ...


def _docker_client() -> Any | None:
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        return client
    except Exception:
        return None


def _image_present(client: Any, tag: str) -> bool:
    try:
        client.images.get(tag)
        return True
    except Exception:
        return False


def _bwrap() -> str | None:
    return shutil.which("bwrap") if sys.platform.startswith("linux") else None


def _expected_image(image: str | None) -> str:
    return image or os.environ.get("SANDBOX_IMAGE") or image_tag()


def select_backend(preference: str = "auto", *, image: str | None = None) -> Backend:
    """The backend for `preference`; SandboxUnavailable says how to get one."""
    if preference not in PREFERENCES:
        raise SandboxUnavailable(
            f"unknown sandbox backend {preference!r}: use one of {PREFERENCES}"
        )
    if preference == "none":
        raise SandboxUnavailable(
            f"the sandbox is switched off (SANDBOX_BACKEND=none); {HOW_TO_ENABLE}"
        )
    tag = _expected_image(image)
    if preference in ("auto", "docker"):
        client = _docker_client()
        if client is not None and _image_present(client, tag):
            from sandbox.docker_backend import DockerBackend

            return DockerBackend(client=client, image=tag)
        if preference == "docker":
            if client is None:
                raise SandboxUnavailable("the Docker engine does not answer: start dockerd")
            raise SandboxUnavailable(f"the sandbox image {tag} is missing: run make sandbox-image")
    bwrap = _bwrap()
    if bwrap is not None:
        from sandbox.bwrap_backend import BwrapBackend

        problem = bwrap_problem()
        if not problem:
            return BwrapBackend(bwrap=bwrap)
        # bubblewrap without a memory and pids limit, or without seccomp: refused.
        if preference == "bwrap":
            raise SandboxUnavailable(problem)
        raise SandboxUnavailable(f"no sandbox backend on this host ({problem}); {HOW_TO_ENABLE}")
    if preference == "bwrap":
        raise SandboxUnavailable("bubblewrap is not installed: apt-get install bubblewrap (Linux)")
    raise SandboxUnavailable(f"no sandbox backend on this host: {HOW_TO_ENABLE}")


# How long a chosen backend is reused by sandbox.run() before it is chosen again (which
# asks the engine for its version, a ping and the image: 10-30 ms a run otherwise).
BACKEND_RECHECK_S = 10.0
_CHOSEN: dict[tuple[str, str], tuple[float, Backend]] = {}
_CHOSEN_LOCK = threading.Lock()


def chosen_backend(preference: str = "auto", *, image: str | None = None) -> Backend:
    """select_backend(), remembered for BACKEND_RECHECK_S; an unavailable one never is."""
    key = (preference, _expected_image(image))
    now = time.monotonic()
    with _CHOSEN_LOCK:
        hit = _CHOSEN.get(key)
    if hit is not None and now - hit[0] < BACKEND_RECHECK_S:
        return hit[1]
    backend = select_backend(preference, image=image)
    with _CHOSEN_LOCK:
        _CHOSEN[key] = (now, backend)
    return backend


def bwrap_problem() -> str:
    """Why bubblewrap jobs cannot be bounded here ('' when they can)."""
    from sandbox.cgroups import LimitsUnavailable, limit_mechanism
    from sandbox.seccomp import SeccompUnavailable, filter_program

    try:
        limit_mechanism()
        filter_program()
    except (LimitsUnavailable, SeccompUnavailable) as exc:
        return str(exc)
    return ""


def backend_status(
    preference: str = "auto", *, image: str | None = None, gpus: str | None = None
) -> dict[str, object]:
    """What /healthz shows: the backend in use, and everything that decides it.

    `gpus` defaults to SANDBOX_GPUS; "gpu" says which GPU path jobs would take (or why
    none can) and what nvidia-smi reports of the host's GPUs.
    """
    from sandbox.gpu import gpu_report

    tag = _expected_image(image)
    client = _docker_client()
    present = client is not None and _image_present(client, tag)
    stale: list[str] = []
    if client is not None:
        try:
            for found in client.images.list(name=REPOSITORY):
                stale += [t for t in found.tags if t != tag and t.startswith(REPOSITORY + ":")]
        except Exception:
            pass  # the list is informative only
    try:
        chosen: str | None = select_backend(preference, image=image).name
        problem = ""
    except SandboxUnavailable as exc:
        chosen, problem = None, str(exc)
    return {
        "preference": preference,
        "backend": chosen,
        "problem": problem,
        "docker": client is not None,
        "image": tag,
        "image_present": present,
        "stale_images": sorted(stale),
        "bwrap": _bwrap(),
        "bwrap_limits": _bwrap_limits(),
        "gpu": gpu_report(
            gpus if gpus is not None else os.environ.get("SANDBOX_GPUS", "none"),
            backend=chosen,
            client=client,
        ).to_json(),
    }


def _bwrap_limits() -> str:
    """How bubblewrap jobs are bounded here: the cgroup mechanism, or why none can be."""
    from sandbox.cgroups import LimitsUnavailable, limit_mechanism

    try:
        mechanism, parent = limit_mechanism()
    except LimitsUnavailable as exc:
        return f"none: {exc}"
    return mechanism if parent is None else f"{mechanism} ({parent})"


def reap_leftovers() -> int:
    """Remove what dead workers left (call when a worker starts): labelled containers, and
    bubblewrap jobs' cgroups with anything still running in them. Returns the count."""
    from sandbox.cgroups import reap_leftovers as reap_groups

    removed = reap_groups()
    client = _docker_client()
    if client is not None:
        from sandbox.docker_reap import reap_leftovers as reap_containers

        removed += reap_containers(client=client)
    return removed
