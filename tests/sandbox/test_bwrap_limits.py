"""bubblewrap never runs a job it cannot bound, and bounds it the same way everywhere.

Found from outside: on a cgroup v2 host, or for a worker that is not root, bwrap applied
only an address-space limit, and 300 processes and 1.5 GB RSS ran unhindered. Now a job
gets a cgroup (v1 controllers, or a v2 folder with memory and pids), RLIMIT_NPROC and a
seccomp filter, or bwrap refuses and says why.

This machine's kernel keeps memory and pids on cgroup v1; its cgroup v2 mount carries
neither, so the v2 case tested for real here is the refusal (a v2 folder without those
controllers), and the non-root case runs the selection as user nobody. The adversarial
suite (test_adversarial.py) covers the bounds themselves on the v1 path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from sandbox import SandboxUnavailable
from sandbox.backends import backend_status, select_backend
from sandbox.bwrap_backend import BwrapBackend
from sandbox.types import Job, Limits, Status

pytestmark = pytest.mark.bwrap

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _cgroup2_mount() -> Path | None:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[fields.index("-") + 1] == "cgroup2":
            return Path(fields[4])
    return None


@pytest.fixture
def v2_folder_without_memory(bwrap_path, monkeypatch):
    mount = _cgroup2_mount()
    if mount is None or not os.access(mount, os.W_OK):
        pytest.skip("no writable cgroup v2 mount on this host")
    if {"memory", "pids"} <= set((mount / "cgroup.controllers").read_text().split()):
        pytest.skip("this host's cgroup v2 has memory and pids: the refusal cannot be staged")
    folder = mount / f"resnet-sandbox-test-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    monkeypatch.setenv("SANDBOX_CGROUP_PARENT", str(folder))
    yield folder
    folder.rmdir()


def test_a_v2_folder_without_memory_and_pids_is_refused_with_the_reason(
    v2_folder_without_memory, bwrap_path
):
    with pytest.raises(SandboxUnavailable) as refused:
        select_backend("bwrap")
    text = str(refused.value)
    assert "memory and pids" in text and str(v2_folder_without_memory) in text
    assert "SANDBOX_CGROUP_PARENT" in text and "Delegate=yes" in text
    with pytest.raises(SandboxUnavailable, match="no sandbox backend on this host"):
        select_backend("auto", image="resnet-sandbox:not-built-here")
    assert backend_status("bwrap")["bwrap_limits"].startswith("none: ")


def test_a_bwrap_backend_asked_to_run_anyway_refuses_the_job(v2_folder_without_memory, bwrap_path):
    marker = f"RAN-{uuid.uuid4().hex}"
    backend = BwrapBackend(bwrap=bwrap_path)
    result = backend.run(
        Job(files={"main.py": f"print({marker!r})".encode()}, command=["python", "main.py"]),
        Limits(wall_s=10),
    )
    assert result.status == Status.SANDBOX_ERROR
    assert "memory and pids" in result.detail
    assert marker.encode() not in result.stdout


def test_a_worker_that_is_not_root_is_refused_on_a_v1_host(bwrap_path, tmp_path):
    setpriv = shutil.which("setpriv")
    if setpriv is None or os.getuid() != 0:
        pytest.skip("needs root and setpriv to run the selection as another user")
    script = (
        "from sandbox import SandboxUnavailable\n"
        "from sandbox.backends import select_backend\n"
        "try:\n    select_backend('bwrap')\n    print('SELECTED')\n"
        "except SandboxUnavailable as exc:\n    print('REFUSED', exc)\n"
    )
    run = subprocess.run(
        [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", script],
        capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(PROJECT_ROOT), "HOME": str(tmp_path)},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("REFUSED"), run.stdout
    assert "cgroup v1" in run.stdout and "SANDBOX_CGROUP_PARENT" in run.stdout


def test_every_bwrap_job_has_rlimit_nproc_and_the_seccomp_filter(bwrap_path):
    source = b"""
import ctypes, errno, resource
libc = ctypes.CDLL(None, use_errno=True)
calls = {"keyctl": (250, 0, -3, 0), "bpf": (321, 0, 0, 0), "userfaultfd": (323, 0),
         "io_uring_setup": (425, 1, 0), "perf_event_open": (298, 0, 0, -1, -1, 0)}
for name, args in calls.items():
    ctypes.set_errno(0)
    r = libc.syscall(*args)
    print(name, r, errno.errorcode.get(ctypes.get_errno()))
print("nproc", resource.getrlimit(resource.RLIMIT_NPROC))
"""
    if os.uname().machine != "x86_64":
        pytest.skip("the system call numbers above are x86_64's")
    limits = Limits(wall_s=20, pids=48)
    result = select_backend("bwrap").run(
        Job(files={"main.py": source}, command=["python", "main.py"]), limits
    )
    out = result.stdout.decode()
    assert result.status == Status.OK, (out, result.stderr[-1000:], result.detail)
    for name in ("keyctl", "bpf", "userfaultfd", "io_uring_setup", "perf_event_open"):
        assert f"{name} -1 EPERM" in out, out
    assert "nproc (48, 48)" in out
