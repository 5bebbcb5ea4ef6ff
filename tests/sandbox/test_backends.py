"""The sandbox's contract, run against each real backend: files in, limits, statuses,
the environment, backend choice, /healthz status, reaping, and the command line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from sandbox.backends import Backend, backend_status, reap_leftovers, select_backend
from sandbox.docker_backend import LABEL, OWNER_LABEL, worker_identity
from sandbox.image import REPOSITORY
from sandbox.types import Job, Limits, SandboxUnavailable, Status

ROOT = Path(__file__).resolve().parents[2]


def python_job(source: str, **files: bytes) -> Job:
    return Job(files={"main.py": source.encode(), **files}, command=["python", "main.py"])


def test_job_files_land_in_the_working_folder_including_subfolders(backend: Backend) -> None:
    blob = os.urandom(3 * 1024 * 1024)  # grading sends inputs of a few MB
    job = Job(
        files={
            "main.py": b"import hashlib, os\n"
            b"print(os.getcwd())\n"
            b"print(open('inputs/spec.json').read())\n"
            b"print(hashlib.sha256(open('inputs/x.npz', 'rb').read()).hexdigest())\n",
            "inputs/spec.json": b'{"n": 3}',
            "inputs/x.npz": blob,
        },
        command=["python", "main.py"],
    )
    result = backend.run(job, Limits(wall_s=10))
    assert result.status == Status.OK, result.detail + result.stderr.decode()
    import hashlib

    cwd, spec, digest = result.stdout.decode().splitlines()
    assert cwd == "/tmp/job"
    assert json.loads(spec) == {"n": 3}
    assert digest == hashlib.sha256(blob).hexdigest()


def test_a_large_output_cap_lets_megabytes_through_untruncated(backend: Backend) -> None:
    job = python_job("import sys\nsys.stdout.write('z' * 3_000_000)\n")
    result = backend.run(job, Limits(wall_s=10, output_bytes=4 * 1024 * 1024))
    assert (result.status, len(result.stdout), result.stdout_truncated) == (
        Status.OK,
        3_000_000,
        False,
    )


def test_output_past_the_cap_keeps_exactly_the_cap_and_says_so(backend: Backend) -> None:
    job = python_job("import sys\nsys.stdout.write('a' * 999 + 'b' * 4001)\n")
    result = backend.run(job, Limits(wall_s=10, output_bytes=1000))
    assert result.status == Status.OUTPUT_LIMIT
    assert result.stdout == b"a" * 999 + b"b"
    assert result.stdout_truncated and not result.stderr_truncated


def test_only_the_sandbox_environment_reaches_the_job(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKER_ONLY_VARIABLE", "leak")
    job = Job(
        files={"main.py": b"import json, os\nprint(json.dumps(dict(os.environ)))\n"},
        command=["python", "main.py"],
        env={"JOB_SEED": "1234"},
    )
    result = backend.run(job, Limits(wall_s=10))
    env = json.loads(result.stdout)
    assert env["JOB_SEED"] == "1234"
    assert env["HOME"] == "/tmp"
    assert [env[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")] == [
        "1"
    ] * 3
    assert "WORKER_ONLY_VARIABLE" not in env
    # Docker adds HOSTNAME; bwrap adds PWD, and PYTHONPATH for the packages; Python adds
    # LC_CTYPE. None of it comes from the worker.
    allowed = {"PATH", "HOME", "LANG", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "JOB_SEED"}
    allowed |= {"OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"}
    allowed |= {"HOSTNAME", "LC_CTYPE", "PYTHONPATH", "PWD"}
    assert set(env) <= allowed, set(env) - allowed


def test_wall_clock_limit_is_the_jobs_own(backend: Backend) -> None:
    result = backend.run(python_job("import time\ntime.sleep(60)\n"), Limits(wall_s=1.5))
    assert result.status == Status.TIMEOUT
    assert 1.5 <= result.wall_s <= 4.0


def test_memory_limit_is_the_jobs_own(backend: Backend) -> None:
    grab = "b = bytearray(200 * 2**20)\nb[::4096] = b'x' * len(b[::4096])\nprint('held')\n"
    assert (
        backend.run(python_job(grab), Limits(wall_s=10, memory_mb=128)).status
        == Status.MEMORY_LIMIT
    )
    roomy = backend.run(python_job(grab), Limits(wall_s=10, memory_mb=512))
    assert (roomy.status, roomy.stdout) == (Status.OK, b"held\n")


def test_pids_limit_stops_a_job_from_starting_more_threads(backend: Backend) -> None:
    source = (
        "import threading, time\n"
        "for i in range(40):\n"
        "    threading.Thread(target=time.sleep, args=(5,), daemon=True).start()\n"
        "print('started all')\n"
    )
    assert (
        backend.run(python_job(source), Limits(wall_s=10, pids=16)).status == Status.RUNTIME_ERROR
    )
    roomy = backend.run(python_job(source), Limits(wall_s=10, pids=64))
    assert roomy.status == Status.OK


def test_a_bad_file_name_is_our_error_and_never_leaves_the_folder(backend: Backend) -> None:
    job = Job(files={"../escape.py": b"", "main.py": b"print(1)"}, command=["python", "main.py"])
    result = backend.run(job, Limits(wall_s=10))
    assert result.status == Status.SANDBOX_ERROR
    assert "bad file name" in result.detail


def test_a_missing_program_is_a_runtime_error(backend: Backend) -> None:
    result = backend.run(Job(files={}, command=["no-such-program"]), Limits(wall_s=10))
    assert (result.status, result.exit_code) == (Status.RUNTIME_ERROR, 127)


def test_switching_the_sandbox_off_explains_how_to_enable_one() -> None:
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        select_backend("none")
    with pytest.raises(SandboxUnavailable, match="unknown sandbox backend"):
        select_backend("podman")


def test_a_missing_image_is_named_with_the_command_that_builds_it(sandbox_image: str) -> None:
    with pytest.raises(SandboxUnavailable, match="make sandbox-image"):
        select_backend("docker", image=f"{REPOSITORY}:does-not-exist")


def test_auto_prefers_docker_when_the_engine_and_image_are_there(sandbox_image: str) -> None:
    assert select_backend("auto").name == "docker"


def test_backend_status_names_the_backend_image_and_stale_tags(
    docker_client, sandbox_image: str
) -> None:
    stale = f"{REPOSITORY}:stale-{uuid.uuid4().hex[:8]}"
    docker_client.images.get(sandbox_image).tag(stale)
    try:
        status = backend_status("auto")
    finally:
        docker_client.images.remove(stale)
    assert status["backend"] == "docker" and status["docker"] is True
    assert (status["image"], status["image_present"]) == (sandbox_image, True)
    assert stale in status["stale_images"] and sandbox_image not in status["stale_images"]
    json.dumps(status)
    assert backend_status("none")["backend"] is None


def test_reaping_removes_a_dead_workers_containers_and_spares_a_live_ones(
    docker_client, sandbox_image: str
) -> None:
    dead = subprocess.Popen(["true"])
    dead_owner = worker_identity(dead.pid)
    dead.wait()
    made = {}
    for who, owner in (("dead", dead_owner), ("live", worker_identity())):
        made[who] = docker_client.containers.create(
            sandbox_image, command=["true"], labels={LABEL: "1", OWNER_LABEL: owner}
        )
    try:
        assert reap_leftovers() >= 1
        left = {
            c.id
            for c in docker_client.containers.list(all=True, sparse=True, filters={"label": LABEL})
        }
        assert made["dead"].id not in left
        assert made["live"].id in left
    finally:
        for container in made.values():
            try:
                container.remove(force=True)
            except Exception:
                pass


@pytest.mark.gpu
def test_a_gpu_job_reports_the_device_it_used(sandbox_image: str) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA on this host (torch.cuda.is_available() is False)")
    source = "import torch\nprint(torch.cuda.get_device_name(torch.cuda.current_device()))\n"
    result = select_backend("docker").run(python_job(source), Limits(wall_s=60, gpus="all"))
    assert result.status == Status.OK, result.stderr
    assert result.stdout.strip()


def test_the_library_imports_no_django() -> None:
    code = (
        "import sys, sandbox, sandbox.backends, sandbox.docker_backend, sandbox.bwrap_backend\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'django'], 'django imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.parametrize("name", ["docker", "bwrap"])
def test_the_command_line_runs_a_file_and_prints_one_json_object(
    name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    request.getfixturevalue("sandbox_image" if name == "docker" else "bwrap_path")
    good = tmp_path / "good.py"
    good.write_text("print('hello from', 'the sandbox')\n")
    slow = tmp_path / "slow.py"
    slow.write_text("while True:\n    pass\n")
    base = [sys.executable, "-m", "sandbox", "run", "--backend", name, "--json"]
    done = subprocess.run([*base, str(good)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    payload = json.loads(done.stdout)
    assert done.returncode == 0, done.stderr
    assert set(payload) >= {
        "status", "exit_code", "signal", "stdout", "stderr", "stdout_truncated",
        "stderr_truncated", "wall_s", "backend", "image",
    }  # fmt: skip
    assert (payload["status"], payload["stdout"], payload["backend"]) == (
        "ok", "hello from the sandbox\n", name,
    )  # fmt: skip
    late = subprocess.run(
        [*base, "--timeout", "1", "--memory", "256", str(slow)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert late.returncode == 1
    assert json.loads(late.stdout)["status"] == "timeout"


def test_the_host_name_inside_is_not_the_workers(backend: Backend) -> None:
    result = backend.run(
        python_job("import socket\nprint(socket.gethostname())\n"), Limits(wall_s=10)
    )
    assert result.status == Status.OK
    assert result.stdout.strip().decode() != socket.gethostname()


def test_isolated_mode_python_still_finds_torch_and_numpy(backend: Backend) -> None:
    # Grading runs its harness as `python -I`, which ignores PYTHONPATH.
    job = Job(
        files={"main.py": b"import numpy, torch\nprint(torch.ones(2, 2).sum().item())\n"},
        command=["python", "-I", "main.py"],
    )
    result = backend.run(job, Limits(wall_s=30))
    assert (result.status, result.stdout) == (Status.OK, b"4.0\n"), result.stderr[-800:]


def test_reaping_kills_what_a_dead_workers_bwrap_job_left_and_removes_its_groups(
    bwrap_path: str,
) -> None:
    from sandbox.bwrap_backend import CGROUP_PARENT, CGROUP_ROOT, Cgroup

    if not Cgroup.available():
        pytest.skip("cgroup v1 controllers are not writable here: bwrap uses rlimits only")
    dead = subprocess.Popen(["true"])
    dead.wait()
    name = f"{dead.pid}-{uuid.uuid4().hex[:12]}"
    paths = [CGROUP_ROOT / c / CGROUP_PARENT / name for c in Cgroup.CONTROLLERS]
    for path in paths:
        path.mkdir(parents=True)
    straggler = subprocess.Popen(["sleep", "300"])
    try:
        for path in paths:
            (path / "cgroup.procs").write_text(str(straggler.pid))
        assert reap_leftovers() >= 1
        assert straggler.wait(timeout=10) == -9
        assert not any(path.exists() for path in paths)
    finally:
        straggler.kill()
        for path in paths:
            if path.exists():
                path.rmdir()
