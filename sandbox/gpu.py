"""GPUs for sandbox jobs: how a job gets its GPU, one job per device, and what the host has.

Three paths, one per way a host can be set up:

- ``toolkit``: Docker with the NVIDIA container toolkit. The job's container gets a device
  request; the toolkit's hook adds the device nodes and the driver's libraries itself.
- ``devices``: Docker without the toolkit. What the toolkit would add is passed in
  explicitly: the ``/dev/nvidiaN`` node of each named GPU and the control nodes
  (``nvidiactl``, ``nvidia-uvm``, ``nvidia-uvm-tools``) as devices, and the driver's
  user-space libraries (``libcuda``, ``libnvidia-*``, from ``ldconfig -p`` or
  SANDBOX_GPU_LIBRARY_DIRS) bound read-only into /opt/nvidia/lib64, on LD_LIBRARY_PATH.
- ``bwrap``: the same nodes with ``--dev-bind`` and the same libraries ``--ro-bind``.

Settings (read from the environment, like every sandbox setting):

- SANDBOX_GPU_PATH: ``auto`` (the toolkit where the engine has it, else devices),
  ``toolkit`` or ``devices``; Docker only (bubblewrap has one way).
- SANDBOX_GPU_DEV_ROOT: where the device nodes are looked for (``/dev``).
- SANDBOX_GPU_LIBRARY_DIRS: folders (``:``-separated) holding the driver's libraries, in
  place of ``ldconfig -p``.
- SANDBOX_GPU_JOBS_PER_DEVICE: jobs at a time on one GPU (1); SANDBOX_GPU_LOCK_DIR, where
  the slot files live; SANDBOX_GPU_SLOT_WAIT_S, how long a job waits for a slot (30).
- SANDBOX_GPU_MEMORY_FRACTION: the share of a GPU's memory one job may allocate, set by
  the harness in the job's process (default 1 / jobs per device). It guards against
  accidents only: the candidate's code can undo it. A hard bound needs MIG or MPS limits
  on the host (README, "GPU sandboxes").

A GPU that was asked for and cannot be given raises GpuUnavailable, which the backends
turn into ``sandbox_error``: a job never quietly runs on the CPU instead.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GPU_PATHS = ("auto", "toolkit", "devices")
CONTROL_NODES = ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools")
REQUIRED_CONTROL = ("nvidiactl", "nvidia-uvm")  # CUDA opens both; -tools is for profilers
LIBRARY_TARGET = "/opt/nvidia/lib64"
BINARY_TARGET = "/opt/nvidia/bin"
# The driver's user-space libraries CUDA needs, as the toolkit's "compute" and "utility"
# capabilities pick them: libcuda and the libnvidia-* it loads (ptxjitcompiler, ml, ...).
LIBRARY_PATTERN = re.compile(r"^(libcuda|libnvidia-[a-z0-9-]+)\.so(\.[0-9.]+)?$")
MEMORY_FRACTION_VAR = "SANDBOX_GPU_MEMORY_FRACTION"


class GpuUnavailable(RuntimeError):
    """A GPU was asked for and this host cannot give it; the text says why."""


def requested(spec: str | None) -> list[str] | None:
    """None for no GPU; [] for all GPUs; else the named ids ("0", "1" or UUIDs)."""
    spec = (spec or "none").strip().lower()
    if spec in ("", "none"):
        return None
    if spec == "all":
        return []
    return [part.strip() for part in spec.split(",") if part.strip()]


def dev_root() -> Path:
    return Path(os.environ.get("SANDBOX_GPU_DEV_ROOT", "/dev"))


def _gpu_nodes(root: Path) -> list[Path]:
    found = [p for p in root.glob("nvidia*") if re.fullmatch(r"nvidia[0-9]+", p.name)]
    return sorted(found, key=lambda p: int(p.name[6:]))


def device_nodes(spec: str | None, *, root: Path | None = None) -> list[Path]:
    """The host nodes a job with `spec` needs: each GPU's, then the control nodes."""
    ids = requested(spec)
    if ids is None:
        return []
    root = root or dev_root()
    if ids:
        bad = [i for i in ids if not i.isdigit()]
        if bad:
            raise GpuUnavailable(
                f"GPU ids {bad} are not device numbers: without the NVIDIA toolkit a GPU is "
                "named by its /dev/nvidiaN number (UUIDs and MIG devices need the toolkit)"
            )
        gpus = [root / f"nvidia{i}" for i in ids]
        missing = [str(p) for p in gpus if not p.exists()]
        if missing:
            raise GpuUnavailable(f"SANDBOX_GPUS names {', '.join(missing)}, which do not exist")
    else:
        gpus = _gpu_nodes(root)
        if not gpus:
            raise GpuUnavailable(f"no NVIDIA device nodes ({root}/nvidia0, ...) on this host")
    absent = [name for name in REQUIRED_CONTROL if not (root / name).exists()]
    if absent:
        raise GpuUnavailable(
            f"the NVIDIA control node(s) {', '.join(str(root / a) for a in absent)} are "
            "missing: load the driver's modules (nvidia-modprobe -u -c=0)"
        )
    controls = [root / name for name in CONTROL_NODES if (root / name).exists()]
    return gpus + controls


def _ldconfig_libraries() -> list[Path]:
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    try:
        listing = subprocess.run(
            [ldconfig, "-p"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_ldconfig(listing)


def parse_ldconfig(listing: str) -> list[Path]:
    """The driver's 64-bit libraries in `ldconfig -p` output, first entry per name."""
    found: dict[str, Path] = {}
    for line in listing.splitlines():
        # "	libcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1"
        left, arrow, path = line.strip().partition(" => ")
        name, _, flags = left.partition(" (")
        if not arrow or ("x86-64" not in flags and "AArch64" not in flags):
            continue  # 32-bit copies: the sandbox's Python is 64-bit
        if LIBRARY_PATTERN.match(name) and name not in found:
            found[name] = Path(path)
    return list(found.values())


def driver_libraries() -> list[Path]:
    """The driver's user-space libraries on this host (host paths, symlinks kept by name)."""
    folders = os.environ.get("SANDBOX_GPU_LIBRARY_DIRS", "").strip()
    if not folders:
        return _ldconfig_libraries()
    found: dict[str, Path] = {}
    for folder in folders.split(":"):
        for path in sorted(Path(folder).glob("*.so*")) if folder else []:
            if LIBRARY_PATTERN.match(path.name) and path.name not in found:
                found[path.name] = path
    return list(found.values())


def library_binds() -> list[tuple[str, str]]:
    """(host file, in-job path) for each driver library and nvidia-smi, read-only."""
    libraries = driver_libraries()
    if not any(p.name.startswith("libcuda.so") for p in libraries):
        where = os.environ.get("SANDBOX_GPU_LIBRARY_DIRS") or "ldconfig -p"
        raise GpuUnavailable(f"the NVIDIA driver's libcuda is not found ({where})")
    binds = [(os.path.realpath(p), f"{LIBRARY_TARGET}/{p.name}") for p in libraries]
    smi = shutil.which("nvidia-smi")
    if smi:
        binds.append((os.path.realpath(smi), f"{BINARY_TARGET}/nvidia-smi"))
    return binds


def job_env(spec: str | None) -> dict[str, str]:
    """What a GPU job's environment adds: the memory share, and where the libraries are."""
    if requested(spec) is None:
        return {}
    return {MEMORY_FRACTION_VAR: f"{memory_fraction():.4f}"}


def memory_fraction() -> float:
    explicit = os.environ.get(MEMORY_FRACTION_VAR, "").strip()
    if explicit:
        value = float(explicit)
        if not 0 < value <= 1:
            raise GpuUnavailable(f"{MEMORY_FRACTION_VAR} must be in (0, 1], not {explicit}")
        return value
    return 1.0 / jobs_per_device()


def jobs_per_device() -> int:
    return max(1, int(os.environ.get("SANDBOX_GPU_JOBS_PER_DEVICE", "1")))


# ------------------------------------------------------------------ Docker


def engine_has_toolkit(client: Any) -> bool:
    """Whether this Docker engine can honour a GPU device request (the NVIDIA toolkit)."""
    try:
        info = client.info()
    except Exception:
        return False
    runtimes = info.get("Runtimes") or {}
    if "nvidia" in runtimes:
        return True
    # The toolkit may be wired in through its hook or CDI without a named runtime.
    cdi = info.get("CDISpecDirs") or []
    return bool(shutil.which("nvidia-container-runtime-hook")) or any(
        Path(d, "nvidia.yaml").exists() or Path(d, "nvidia.json").exists() for d in cdi
    )


def docker_path(client: Any) -> str:
    """ "toolkit" or "devices": which Docker path SANDBOX_GPU_PATH picks on this engine."""
    choice = os.environ.get("SANDBOX_GPU_PATH", "auto").strip().lower() or "auto"
    if choice not in GPU_PATHS:
        raise GpuUnavailable(f"SANDBOX_GPU_PATH={choice!r}: use one of {GPU_PATHS}")
    if choice == "auto":
        return "toolkit" if engine_has_toolkit(client) else "devices"
    return choice


def docker_arguments(spec: str | None, *, client: Any) -> dict[str, Any]:
    """The keyword arguments a GPU job's container is created with ({} without a GPU)."""
    import docker.types

    ids = requested(spec)
    if ids is None:
        return {}
    path = docker_path(client)
    if path == "toolkit":
        request = (
            docker.types.DeviceRequest(device_ids=ids, capabilities=[["gpu"]])
            if ids
            else docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])
        )
        return {"device_requests": [request], "environment": job_env(spec)}
    nodes = device_nodes(spec)
    devices = [f"{node}:/dev/{node.name}:rwm" for node in nodes]
    mounts = [
        docker.types.Mount(target, host, type="bind", read_only=True)
        for host, target in library_binds()
    ]
    env = {"LD_LIBRARY_PATH": LIBRARY_TARGET, **job_env(spec)}
    return {"devices": devices, "mounts": mounts, "environment": env}


# ------------------------------------------------------------------ bubblewrap


def bwrap_arguments(spec: str | None) -> tuple[list[str], dict[str, str]]:
    """The bwrap arguments (device and library binds) and environment of a GPU job."""
    if requested(spec) is None:
        return [], {}
    argv: list[str] = []
    for node in device_nodes(spec):
        argv += ["--dev-bind", str(node), f"/dev/{node.name}"]
    for host, target in library_binds():
        argv += ["--ro-bind", host, target]
    return argv, {"LD_LIBRARY_PATH": LIBRARY_TARGET, **job_env(spec)}


# ------------------------------------------------------------------ one job per device


def _lock_dir() -> Path:
    folder = Path(
        os.environ.get("SANDBOX_GPU_LOCK_DIR")
        or os.path.join(tempfile.gettempdir(), "resnet-sandbox-gpu")
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _slot_keys(spec: str | None) -> list[str]:
    ids = requested(spec)
    if ids is None:
        return []
    if ids:
        return sorted(set(ids))
    nodes = _gpu_nodes(dev_root())
    return [node.name[6:] for node in nodes] or ["all"]


@contextlib.contextmanager
def device_slots(spec: str | None, *, wait_s: float | None = None) -> Iterator[list[str]]:
    """Hold one of SANDBOX_GPU_JOBS_PER_DEVICE slots on every GPU the job uses.

    Slots are flock()ed files shared by every worker process on the host, released when
    the holder exits however it exits. GpuUnavailable when none frees up within `wait_s`.
    """
    keys = _slot_keys(spec)
    if not keys:
        yield []
        return
    if wait_s is None:
        wait_s = float(os.environ.get("SANDBOX_GPU_SLOT_WAIT_S", "30"))
    folder = _lock_dir()
    per_device = jobs_per_device()
    deadline = time.monotonic() + wait_s
    held: list[tuple[int, str]] = []
    try:
        for key in keys:  # always in the same order: two jobs never wait on each other
            while True:
                fd = _try_slot(folder, key, per_device)
                if fd is not None:
                    held.append(fd)
                    break
                if time.monotonic() >= deadline:
                    raise GpuUnavailable(
                        f"GPU {key} stayed busy for {wait_s:g} s "
                        f"({per_device} job(s) at a time per device)"
                    )
                time.sleep(0.05)
        yield [name for _, name in held]
    finally:
        for fd, _ in held:
            os.close(fd)  # closing drops the lock


def _try_slot(folder: Path, key: str, per_device: int) -> tuple[int, str] | None:
    for slot in range(per_device):
        name = f"gpu-{key}.slot{slot}.lock"
        fd = os.open(folder / name, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                continue
            raise
        return fd, name
    return None


# ------------------------------------------------------------------ status


@dataclass
class GpuReport:
    requested: str
    path: str | None = None
    problem: str = ""
    gpus: list[dict[str, object]] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    libraries: int = 0
    jobs_per_device: int = 1

    def to_json(self) -> dict[str, object]:
        return {
            "requested": self.requested,
            "path": self.path,
            "problem": self.problem,
            "gpus": self.gpus,
            "nodes": self.nodes,
            "libraries": self.libraries,
            "jobs_per_device": self.jobs_per_device,
        }


def nvidia_smi() -> list[dict[str, object]]:
    """Each GPU's index, name and memory as nvidia-smi reports them ([] without it)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_smi(out)


def parse_smi(text: str) -> list[dict[str, object]]:
    gpus: list[dict[str, object]] = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3 and parts[0].isdigit():
            memory = int(parts[2]) if parts[2].isdigit() else None
            gpus.append({"index": int(parts[0]), "name": parts[1], "memory_mib": memory})
    return gpus


def gpu_report(spec: str | None, *, backend: str | None, client: Any = None) -> GpuReport:
    """Which GPU path a job with `spec` would take under `backend`, or why none can."""
    report = GpuReport(requested=(spec or "none"), jobs_per_device=jobs_per_device())
    report.gpus = nvidia_smi()
    if requested(spec) is None:
        report.problem = "no GPU asked for (SANDBOX_GPUS=none)"
        return report
    try:
        if backend == "docker":
            report.path = docker_path(client)
        elif backend == "bwrap":
            report.path = "bwrap"
        else:
            raise GpuUnavailable("no sandbox backend to give a GPU to")
        if report.path != "toolkit":
            report.nodes = [str(n) for n in device_nodes(spec)]
            report.libraries = len(library_binds())
    except GpuUnavailable as exc:
        report.problem = str(exc)
        report.path = None
    return report
