"""The production backend: one fresh, locked-down Docker container per job.

The container is created with stdin open and attached before it starts, so the job's
files go in through stdin (the root is read-only and the tmpfs exists only once the
container runs). Output is read from the same attach stream by a thread that stops
collecting at the cap. The wall clock is kept here, outside the box, and the container
is removed in a finally block whatever happened.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
import uuid
from datetime import datetime
from typing import Any

from sandbox.bootstrap import bootstrap_argv, pack_files
from sandbox.capture import JobOutput
from sandbox.envs import job_environment
from sandbox.gpu import device_slots, docker_arguments
from sandbox.types import Job, Limits, RunResult, Status

LABEL = "resnet-sandbox.job"
# Which worker process made the container: host, pid and the pid's start time (pids get
# reused), so one worker's start-up never reaps another live worker's jobs.
OWNER_LABEL = "resnet-sandbox.owner"
# A labelled container whose owner cannot be checked (another host sharing the engine) is
# reaped only once it is older than any job can be.
FOREIGN_STALE_AFTER_S = 3600.0
PYTHON = "python3"  # the image's interpreter, on its PATH
WORKDIR = "/tmp"
# Seconds to wait for a killed container to be reported as exited before giving up on it.
KILL_GRACE_S = 10.0


def _raw_socket(attached: Any) -> socket.socket:
    # docker's attach_socket hands back a SocketIO around the hijacked connection.
    return getattr(attached, "_sock", attached)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed
    sock.close()


def _send(sock: socket.socket, payload: bytes) -> None:
    try:
        sock.sendall(payload)
    except OSError:
        pass  # it died before reading everything; its exit says why


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _pump_frames(sock: socket.socket, output: JobOutput, finished: threading.Event) -> None:
    """Demultiplex the attach stream (8-byte header per frame) into the capped streams."""
    try:
        while not output.over_cap.is_set():
            header = _read_exactly(sock, 8)
            if header is None:
                break
            kind, size = struct.unpack(">BxxxL", header)
            remaining = size
            while remaining:
                chunk = sock.recv(min(remaining, 1 << 16))
                if not chunk:
                    return
                remaining -= len(chunk)
                if kind == 1:
                    output.feed_stdout(chunk)
                elif kind == 2:
                    output.feed_stderr(chunk)
    except OSError:
        pass  # the socket is closed under us when the container is killed
    finally:
        finished.set()


class DockerBackend:
    name = "docker"

    def __init__(self, *, client: Any, image: str) -> None:
        self.client = client
        self.image = image

    def run(self, job: Job, limits: Limits) -> RunResult:
        started = time.monotonic()
        container = None
        try:
            # A GPU job waits here for its device's slot; GpuUnavailable is our error.
            with device_slots(limits.gpus):
                container = self._create(job, limits)
                return self._drive(container, job, limits, started)
        except Exception as exc:  # any failure of ours is a sandbox_error, never the code's
            return RunResult.sandbox_error(
                backend=self.name,
                wall_s=time.monotonic() - started,
                detail=f"{type(exc).__name__}: {exc}",
                image=self.image,
            )
        finally:
            if container is not None:
                try:
                    container.remove(force=True)
                except Exception:
                    pass  # reap_leftovers() finds it by its label

    def _create(self, job: Job, limits: Limits) -> Any:
        import docker.types

        command = [
            PYTHON if part == "python" and i == 0 else part for i, part in enumerate(job.command)
        ]
        memory = f"{limits.memory_mb}m"
        # The GPU's device request, or its nodes and libraries (sandbox/gpu.py).
        gpu = docker_arguments(limits.gpus, client=self.client)
        environment = job_environment(job, home=WORKDIR, path=None) | gpu.pop("environment", {})
        return self.client.containers.create(
            self.image,
            command=bootstrap_argv(PYTHON, command),
            name=f"resnet-sandbox-{uuid.uuid4().hex[:12]}",
            labels={LABEL: "1", OWNER_LABEL: worker_identity()},
            stdin_open=True,
            tty=False,
            network_mode="none",
            read_only=True,
            tmpfs={
                WORKDIR: f"size={limits.tmpfs_mb}m,mode=1777,nosuid,nodev",
                # The engine mounts a writable mqueue filesystem at /dev/mqueue; a
                # read-only empty tmpfs covers it, so the job's tmpfs stays the only
                # writable place (and the msgqueue ulimit below refuses queues anyway).
                "/dev/mqueue": "size=0,ro,nosuid,nodev,noexec",
            },
            ipc_mode="none",  # no /dev/shm: the tmpfs stays the only writable place
            user="65534:65534",
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            pids_limit=limits.pids,
            mem_limit=memory,
            memswap_limit=memory,  # equal: no swap
            nano_cpus=int(limits.cpus * 1e9),
            init=True,  # docker-init reaps and takes every leftover child down with the job
            environment=environment,
            working_dir=WORKDIR,
            hostname="sandbox",
            log_config=docker.types.LogConfig(type="none"),  # a flood never reaches disk
            ulimits=[
                docker.types.Ulimit(name="core", soft=0, hard=0),
                docker.types.Ulimit(name="msgqueue", soft=0, hard=0),
            ],
            **gpu,
        )

    def _drive(self, container: Any, job: Job, limits: Limits, started: float) -> RunResult:
        attached = container.attach_socket(
            params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        )
        sock = _raw_socket(attached)
        output = JobOutput(limits.output_bytes)
        finished = threading.Event()
        container.start()
        started = time.monotonic()
        reader = threading.Thread(target=_pump_frames, args=(sock, output, finished), daemon=True)
        reader.start()
        timed_out = False
        try:
            # Sent from a thread: a stuck reader inside must not stop the clock out here.
            threading.Thread(target=_send, args=(sock, pack_files(job.files)), daemon=True).start()
            deadline = started + limits.wall_s
            while not finished.is_set() and not output.over_cap.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                finished.wait(min(left, 0.05))
            if not finished.is_set() or output.over_cap.is_set():
                # Close our end first: a stream nobody reads would stall the engine's
                # copy from the container, and with it the kill.
                _close(sock)
                try:
                    container.kill()
                except Exception:
                    pass  # already gone
            state = container.wait(timeout=KILL_GRACE_S)
            wall = time.monotonic() - started
        finally:
            _close(sock)
            reader.join(timeout=2)
        container.reload()
        oom = bool(container.attrs["State"].get("OOMKilled"))
        code = state.get("StatusCode")
        return _result(
            output=output,
            code=code,
            timed_out=timed_out,
            oom=oom,
            wall=wall,
            backend=self.name,
            image=self.image,
        )


def _result(
    *,
    output: JobOutput,
    code: int | None,
    timed_out: bool,
    oom: bool,
    wall: float,
    backend: str,
    image: str | None,
) -> RunResult:
    """Turn what was observed from outside into a status; the order decides ties."""
    signal = code - 128 if code is not None and code > 128 else None
    detail = ""
    if output.over_cap.is_set():
        status = Status.OUTPUT_LIMIT
    elif timed_out:
        status = Status.TIMEOUT
    elif oom:
        status = Status.MEMORY_LIMIT
    elif not output.ready:
        status = Status.SANDBOX_ERROR
        detail = output.setup_message() or f"the job never started (exit {code})"
    elif code == 0:
        status = Status.OK
    else:
        status = Status.RUNTIME_ERROR
    return RunResult(
        status=status,
        exit_code=code,
        signal=signal,
        stdout=output.stdout.value(),
        stderr=output.stderr.value(),
        stdout_truncated=output.stdout.truncated,
        stderr_truncated=output.stderr.truncated,
        wall_s=wall,
        backend=backend,
        image=image,
        detail=detail,
    )


def _start_ticks(pid: int) -> str | None:
    try:
        stat = open(f"/proc/{pid}/stat").read()  # noqa: SIM115 - tiny read
    except OSError:
        return None
    # Field 22 (starttime); the command name in field 2 may hold spaces, so split after ")".
    return stat.rsplit(")", 1)[1].split()[19]


def worker_identity(pid: int | None = None) -> str:
    pid = pid or os.getpid()
    return f"{socket.gethostname()}/{pid}/{_start_ticks(pid)}"


def _owner_alive(owner: str) -> bool | None:
    """True/False for an owner on this host; None when it lives elsewhere (or is unknown)."""
    try:
        host, pid, ticks = owner.split("/")
    except ValueError:
        return None
    if host != socket.gethostname():
        return None
    return _start_ticks(int(pid)) == ticks


def _age_s(container: Any) -> float:
    created = container.attrs.get("Created", "")
    try:
        # The engine writes nanoseconds; fromisoformat takes at most microseconds.
        stamp = datetime.fromisoformat(created[:26].rstrip("Z") + "+00:00")
    except ValueError:
        return float("inf")
    return time.time() - stamp.timestamp()


def reap_leftovers(*, client: Any, stale_after_s: float = FOREIGN_STALE_AFTER_S) -> int:
    """Remove the containers whose worker is gone; returns how many went.

    A container of a live worker on this host is left alone, and one from another host
    (workers sharing an engine) only goes once older than `stale_after_s`.
    """
    removed = 0
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        alive = _owner_alive(container.labels.get(OWNER_LABEL, ""))
        if alive or (alive is None and _age_s(container) < stale_after_s):
            continue
        try:
            container.remove(force=True)
            removed += 1
        except Exception:
            pass  # removed by someone else meanwhile
    return removed
