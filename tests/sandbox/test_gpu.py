"""GPU sandboxes without a GPU: the three paths against the real Docker engine and bwrap.

The device nodes are stand-ins made with mknod in a temporary folder (the numbers of
NVIDIA's: major 195), named by SANDBOX_GPU_DEV_ROOT, and the driver's libraries are
stand-in files named by SANDBOX_GPU_LIBRARY_DIRS. What a job sees inside (which nodes,
with which numbers, which libraries, read-only) is real; that CUDA then works through
them needs a GPU (the `gpu` marker, and benchmarks/gpu_check.py).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sandbox import gpu
from sandbox.backends import Backend, backend_status, select_backend
from sandbox.types import Job, Limits, Status

NODES = {"nvidia0": (195, 0), "nvidia1": (195, 1), "nvidiactl": (195, 255), "nvidia-uvm": (509, 0)}

PROBE = textwrap.dedent(
    """
    import json, os, stat
    nodes = {}
    for name in sorted(os.listdir("/dev")):
        if name.startswith("nvidia"):
            st = os.stat("/dev/" + name)
            nodes[name] = [stat.S_ISCHR(st.st_mode), os.major(st.st_rdev), os.minor(st.st_rdev)]
    libs = sorted(os.listdir("/opt/nvidia/lib64")) if os.path.isdir("/opt/nvidia/lib64") else []
    content = open("/opt/nvidia/lib64/libcuda.so.1").read() if libs else ""
    try:
        open("/opt/nvidia/lib64/libcuda.so.1", "a").write("x")
        writable = True
    except OSError:
        writable = False
    print(json.dumps({"nodes": nodes, "libs": libs, "content": content, "writable": writable,
                      "ld": os.environ.get("LD_LIBRARY_PATH"),
                      "fraction": os.environ.get("SANDBOX_GPU_MEMORY_FRACTION")}))
    """
)


@pytest.fixture
def stand_in_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two GPUs' nodes, the control nodes and a driver's libraries, none of them real."""
    if os.geteuid() != 0:
        pytest.skip("mknod of stand-in device nodes needs root")
    root = tmp_path / "dev"
    root.mkdir()
    for name, (major, minor) in NODES.items():
        os.mknod(root / name, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
    libs = tmp_path / "driver"
    libs.mkdir()
    (libs / "libcuda.so.535.1").write_text("stand-in libcuda\n")
    (libs / "libcuda.so.1").symlink_to("libcuda.so.535.1")
    (libs / "libnvidia-ml.so.1").write_text("stand-in nvml\n")
    (libs / "libssl.so.3").write_text("not the driver's\n")
    monkeypatch.setenv("SANDBOX_GPU_DEV_ROOT", str(root))
    monkeypatch.setenv("SANDBOX_GPU_LIBRARY_DIRS", str(libs))
    monkeypatch.setenv("SANDBOX_GPU_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.setenv("SANDBOX_GPU_PATH", "devices")
    return root


def _probe(backend: Backend, gpus: str) -> dict:
    import json

    result = backend.run(Job(files={"main.py": PROBE.encode()}, command=["python", "main.py"]),
                         Limits(wall_s=30, gpus=gpus))  # fmt: skip
    assert result.status == Status.OK, (result.detail, result.stderr[-800:])
    return json.loads(result.stdout)


def test_a_named_gpu_gets_its_node_the_control_nodes_and_the_driver_read_only(
    backend: Backend, stand_in_gpus: Path
) -> None:
    seen = _probe(backend, "1")
    # Only the GPU asked for: nvidia0 stays out.
    assert seen["nodes"] == {
        "nvidia1": [True, 195, 1],
        "nvidia-uvm": [True, 509, 0],
        "nvidiactl": [True, 195, 255],
    }
    assert seen["libs"] == ["libcuda.so.1", "libcuda.so.535.1", "libnvidia-ml.so.1"]
    assert seen["content"] == "stand-in libcuda\n"
    assert seen["writable"] is False
    assert seen["ld"] == "/opt/nvidia/lib64"
    assert seen["fraction"] == "1.0000"


def test_all_gpus_means_every_numbered_node(backend: Backend, stand_in_gpus: Path) -> None:
    assert set(_probe(backend, "all")["nodes"]) == {"nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm"}


def test_without_a_gpu_no_node_and_no_library_goes_in(
    backend: Backend, stand_in_gpus: Path
) -> None:
    seen = _probe(backend, "none")
    assert (seen["nodes"], seen["libs"], seen["ld"], seen["fraction"]) == ({}, [], None, None)


@pytest.mark.parametrize(
    ("gpus", "why"),
    [
        ("3", "nvidia3, which do not exist"),
        ("GPU-8f6e", "not device numbers"),
    ],
)
def test_a_gpu_that_cannot_be_given_is_a_sandbox_error_never_a_cpu_run(
    backend: Backend, stand_in_gpus: Path, gpus: str, why: str
) -> None:
    result = backend.run(
        Job(files={"main.py": b"print('ran')"}, command=["python", "main.py"]),
        Limits(wall_s=30, gpus=gpus),
    )
    assert result.status == Status.SANDBOX_ERROR
    assert why in result.detail
    assert result.stdout == b""


def test_missing_control_nodes_or_driver_are_sandbox_errors(
    backend: Backend, stand_in_gpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = Job(files={"main.py": b"print('ran')"}, command=["python", "main.py"])
    (stand_in_gpus / "nvidia-uvm").unlink()
    result = backend.run(job, Limits(wall_s=30, gpus="0"))
    assert (result.status, "nvidia-uvm" in result.detail) == (Status.SANDBOX_ERROR, True)
    os.mknod(stand_in_gpus / "nvidia-uvm", 0o666 | stat.S_IFCHR, os.makedev(509, 0))
    monkeypatch.setenv("SANDBOX_GPU_LIBRARY_DIRS", str(tmp_path / "empty"))
    result = backend.run(job, Limits(wall_s=30, gpus="0"))
    assert (result.status, "libcuda" in result.detail) == (Status.SANDBOX_ERROR, True)


@pytest.mark.docker
def test_the_toolkit_path_sends_a_device_request_and_fails_loudly_without_the_toolkit(
    sandbox_image: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SANDBOX_GPU_PATH", "toolkit")
    monkeypatch.setenv("SANDBOX_GPU_LOCK_DIR", str(tmp_path))
    docker = select_backend("docker")
    args = gpu.docker_arguments("0, 1", client=docker.client)  # type: ignore[attr-defined]
    assert args["device_requests"][0]["DeviceIDs"] == ["0", "1"]
    assert args["device_requests"][0]["Capabilities"] == [["gpu"]]
    assert gpu.docker_arguments("all", client=None)["device_requests"][0]["Count"] == -1
    assert "devices" not in args and "mounts" not in args  # the toolkit adds those itself
    if gpu.engine_has_toolkit(docker.client):  # type: ignore[attr-defined]
        pytest.skip("this engine has the NVIDIA toolkit: the failure case cannot be shown")
    result = docker.run(
        Job(files={"main.py": b"print('ran')"}, command=["python", "main.py"]),
        Limits(wall_s=30, gpus="all"),
    )
    assert result.status == Status.SANDBOX_ERROR
    assert "gpu" in result.detail and result.stdout == b""


def test_auto_picks_devices_on_an_engine_without_the_toolkit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Engine:  # what docker's client.info() answers, with and without the toolkit
        def __init__(self, runtimes: dict) -> None:
            self.runtimes = runtimes

        def info(self) -> dict:
            return {"Runtimes": self.runtimes}

    monkeypatch.setenv("SANDBOX_GPU_PATH", "auto")
    monkeypatch.setenv("PATH", "/nonexistent")  # no nvidia-container-runtime-hook
    assert gpu.docker_path(Engine({"runc": {}})) == "devices"
    assert gpu.docker_path(Engine({"runc": {}, "nvidia": {"path": "x"}})) == "toolkit"
    monkeypatch.setenv("SANDBOX_GPU_PATH", "cdi")
    with pytest.raises(gpu.GpuUnavailable, match="SANDBOX_GPU_PATH"):
        gpu.docker_path(Engine({}))


def test_the_driver_libraries_come_from_ldconfig_64_bit_only() -> None:
    listing = textwrap.dedent(
        """\
        1024 libs found in cache `/etc/ld.so.cache'
        \tlibnvidia-ml.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1
        \tlibnvidia-ml.so.1 (libc6) => /usr/lib/i386-linux-gnu/libnvidia-ml.so.1
        \tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1
        \tlibcuda.so (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so
        \tlibcudart.so.12 (libc6,x86-64) => /usr/local/cuda/lib64/libcudart.so.12
        \tlibnvidia-ptxjitcompiler.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libnvidia-ptxjitcompiler.so.1
        \tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1
        """
    )
    assert [str(p) for p in gpu.parse_ldconfig(listing)] == [
        "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1",
        "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
        "/usr/lib/x86_64-linux-gnu/libcuda.so",
        "/usr/lib/x86_64-linux-gnu/libnvidia-ptxjitcompiler.so.1",
    ]  # the CUDA runtime (libcudart) comes with torch's wheel, not from the driver


# ------------------------------------------------------------------ one job per device

HOLD = """
import sys, time
from sandbox.gpu import device_slots
with device_slots(sys.argv[1]):
    print("held", flush=True)
    time.sleep(30)
"""


def _hold_in_another_process(spec: str) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, spec], stdout=subprocess.PIPE,
                              text=True, env=os.environ.copy())  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_job_on_a_busy_gpu_waits_and_then_fails_as_ours(
    backend: Backend, stand_in_gpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANDBOX_GPU_SLOT_WAIT_S", "0.5")
    holder = _hold_in_another_process("0")
    try:
        job = Job(files={"main.py": b"print('ran')"}, command=["python", "main.py"])
        busy = backend.run(job, Limits(wall_s=30, gpus="0"))
        assert busy.status == Status.SANDBOX_ERROR and "GPU 0 stayed busy" in busy.detail
        # Another GPU is free, and a CPU job never waits for a GPU.
        assert backend.run(job, Limits(wall_s=30, gpus="1")).status == Status.OK
        assert backend.run(job, Limits(wall_s=30)).status == Status.OK
    finally:
        holder.kill()
        holder.wait()
    assert backend.run(job, Limits(wall_s=30, gpus="0")).status == Status.OK


def test_jobs_per_device_is_a_setting(stand_in_gpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_GPU_JOBS_PER_DEVICE", "2")
    holder = _hold_in_another_process("0")
    try:
        with gpu.device_slots("0", wait_s=0.2) as held:
            assert held == ["gpu-0.slot1.lock"]
            with pytest.raises(gpu.GpuUnavailable), gpu.device_slots("0", wait_s=0.2):
                pass
        # With two per device, each job may take half the GPU's memory.
        assert gpu.job_env("0") == {"SANDBOX_GPU_MEMORY_FRACTION": "0.5000"}
    finally:
        holder.kill()
        holder.wait()


def test_a_dead_holder_frees_its_slot(stand_in_gpus: Path) -> None:
    holder = _hold_in_another_process("all")
    holder.kill()
    holder.wait()
    with gpu.device_slots("all", wait_s=1) as held:
        assert held == ["gpu-0.slot0.lock", "gpu-1.slot0.lock"]


# ------------------------------------------------------------------ status


@pytest.fixture
def stand_in_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An nvidia-smi that answers as one H200 would (a GPU stand-in, like the nodes)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    smi = folder / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho '0, NVIDIA H200, 143771'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")


def test_status_names_the_gpu_path_nodes_and_the_gpus_name_and_memory(
    backend: Backend, stand_in_gpus: Path, stand_in_smi: None
) -> None:
    report = backend_status(backend.name, gpus="0")["gpu"]
    assert report["path"] == ("devices" if backend.name == "docker" else "bwrap")
    assert report["problem"] == ""
    assert report["gpus"] == [{"index": 0, "name": "NVIDIA H200", "memory_mib": 143771}]
    assert report["nodes"] == [str(stand_in_gpus / n) for n in ("nvidia0", *gpu.CONTROL_NODES)
                               if (stand_in_gpus / n).exists()]  # fmt: skip
    assert report["libraries"] == 3 + 1  # two names of libcuda, nvml, and nvidia-smi
    missing = backend_status(backend.name, gpus="5")["gpu"]
    assert missing["path"] is None and "nvidia5" in missing["problem"]


def test_the_command_line_status_reports_the_gpu(stand_in_gpus: Path, stand_in_smi: None,
                                                 bwrap_path: str) -> None:  # fmt: skip
    import json

    env = {**os.environ, "SANDBOX_GPUS": "all", "SANDBOX_BACKEND": "bwrap"}
    done = subprocess.run([sys.executable, "-m", "sandbox", "status"], capture_output=True,
                          text=True, env=env, timeout=120, check=True,
                          cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    report = json.loads(done.stdout)["gpu"]
    assert (report["path"], report["gpus"][0]["name"]) == ("bwrap", "NVIDIA H200")
