"""The production backend: one fresh, locked-down Docker container per job.

The container is created with stdin open and attached before it starts, so the job's
files go in through stdin (the root is read-only and the tmpfs exists only once the
container runs). Output is read from the same attach stream by a thread that stops
collecting at the cap. The wall clock is kept here, outside the box, and the container
is removed in a finally block whatever happened. The box keeps a second clock of its own
(INSIDE_GRACE_S later), so that a job whose worker died ends on time by itself.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import socket
import struct
import threading
import time
import uuid
from datetime import datetime
from typing import Any

from sandbox.bootstrap import bootstrap_argv, pack_files, warm_bootstrap_argv, warm_servable
from sandbox.capture import JobOutput
from sandbox.envs import job_environment
from sandbox.gpu import device_slots, docker_arguments
from sandbox.types import Job, Limits, RunResult, Status

LABEL = "resnet-sandbox.job"
# Which worker process made the container: host, pid and the pid's start time (pids get
# reused), so one worker's start-up never reaps another live worker's jobs.
OWNER_LABEL = "resnet-sandbox.owner"
# When the container must be over by (unix time), inside deadline included: the reaper
# removes a container past it whoever owns it, should even the inside deadline fail.
DEADLINE_LABEL = "resnet-sandbox.deadline"
# The container keeps its own clock too (coreutils `timeout` as its PID 1, which nothing
# inside may stop or kill), so a job whose worker died ends by itself. It fires this long
# after the worker's own wall clock, which therefore decides every normal run.
INSIDE_GRACE_S = 5.0
# Past its deadline label plus this, a container is reaped even if its worker lives.
DEADLINE_REAP_SLACK_S = 30.0
# A labelled container whose owner cannot be checked (another host sharing the engine) is
# reaped only once it is older than any job can be.
FOREIGN_STALE_AFTER_S = 3600.0
PYTHON = "python3"  # the image's interpreter, on its PATH
WORKDIR = "/tmp"
# Seconds to wait for a killed container to be reported as exited before giving up on it.
KILL_GRACE_S = 10.0
# Seconds before a run's start from which the engine's event log is searched for a kill
# of its container (the engine's clock may lag the worker's a little).
EVENT_CLOCK_SLACK_S = 5.0


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


@dataclasses.dataclass
class _Running:
    """A started container with its attached streams, waiting for (or running) a job."""

    container: Any
    sock: socket.socket
    output: JobOutput
    finished: threading.Event
    reader: threading.Thread
    started_at: float


# ------------------------------------------------------------------ the warm pool
#
# Containers started ahead, one shape of job each (image, limits, environment, command),
# each running WARM_BOOTSTRAP: torch and numpy imported, blocked on stdin until its one
# job arrives. A container serves exactly one job and is removed; the pool refills in the
# background. Same isolation as a cold container (the same _create); labelled the same,
# so reap_leftovers() removes a dead worker's pool. A waiter that exited, or is older than
# POOL_MAX_AGE_S, is removed and never used. The pool is per worker process.
POOL_MAX_AGE_S = 600.0
_POOL: dict[tuple, list[_Running]] = {}
_POOL_LOCK = threading.Lock()
_POOL_FILLING: set[tuple] = set()


def pool_size() -> int:
    """Warm containers kept per job shape in this process (SANDBOX_POOL_SIZE; 0: off)."""
    try:
        return max(0, int(os.environ.get("SANDBOX_POOL_SIZE", "1")))
    except ValueError:
        return 1


def _pool_key(image: str, job: Job, limits: Limits) -> tuple:
    return (image, limits, tuple(sorted(job.env.items())), tuple(job.command))


def _discard(running: _Running) -> None:
    try:
        running.container.remove(force=True)
    except Exception:
        pass
    _close(running.sock)


def _usable(running: _Running) -> bool:
    if running.finished.is_set() or running.output.stdout.value() or running.output.ready:
        return False  # the waiter exited, or wrote before its job arrived
    if time.monotonic() - running.started_at > POOL_MAX_AGE_S:
        return False
    try:
        running.container.reload()
    except Exception:
        return False
    return running.container.status == "running"


def _pool_take(key: tuple) -> _Running | None:
    """A live waiting container of this shape, or None; dead or stale ones are removed."""
    while True:
        with _POOL_LOCK:
            waiting = _POOL.get(key, [])
            running = waiting.pop(0) if waiting else None
            stale = [k for k in _POOL if k[0] != key[0]]  # another image tag: drain it
            drained = [r for k in stale for r in _POOL.pop(k)]
        for old in drained:
            _discard(old)
        if running is None:
            return None
        if _usable(running):
            return running
        _discard(running)


def _pool_refill(backend: DockerBackend, key: tuple, job: Job, limits: Limits) -> None:
    """Start containers for this shape until pool_size() wait, on a background thread."""
    with _POOL_LOCK:
        if key in _POOL_FILLING or len(_POOL.get(key, [])) >= pool_size():
            return
        _POOL_FILLING.add(key)

    def fill() -> None:
        try:
            while True:
                with _POOL_LOCK:
                    if len(_POOL.get(key, [])) >= pool_size():
                        return
                container = backend._create(job, limits, warm=True)
                try:
                    running = backend._attach_start(container, limits)
                except Exception:
                    container.remove(force=True)
                    raise
                with _POOL_LOCK:
                    _POOL.setdefault(key, []).append(running)
        except Exception:
            pass  # the next job runs cold and tries again
        finally:
            with _POOL_LOCK:
                _POOL_FILLING.discard(key)

    threading.Thread(target=fill, daemon=True, name="sandbox-pool").start()


def pool_drain() -> int:
    """Remove every waiting container of this process; returns how many."""
    with _POOL_LOCK:
        waiting = [r for rs in _POOL.values() for r in rs]
        _POOL.clear()
    for running in waiting:
        _discard(running)
    return len(waiting)


atexit.register(pool_drain)


class DockerBackend:
    name = "docker"

    def __init__(self, *, client: Any, image: str) -> None:
        self.client = client
        self.image = image

    def run(self, job: Job, limits: Limits) -> RunResult:
        started = time.monotonic()
        container = None
        if pool_size() > 0 and warm_servable(job.command):
            key = _pool_key(self.image, job, limits)
            warm = _pool_take(key)
            _pool_refill(self, key, job, limits)  # in the background: ready for the next job
            if warm is not None:
                return self._serve_warm(warm, job, limits)
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

    def _create(self, job: Job, limits: Limits, *, warm: bool = False) -> Any:
        import docker.types

        command = [
            PYTHON if part == "python" and i == 0 else part for i, part in enumerate(job.command)
        ]
        memory = f"{limits.memory_mb}m"
        inside_s = limits.wall_s + INSIDE_GRACE_S
        if warm:
            # A waiting container's own clock covers its wait (never used past
            # POOL_MAX_AGE_S) and its job; the waiter's watchdog ends the job itself
            # `inside_s` after the hand-over.
            outer_s = POOL_MAX_AGE_S + inside_s
            argv = warm_bootstrap_argv(PYTHON, command, deadline_s=inside_s)
        else:
            outer_s = inside_s
            argv = bootstrap_argv(PYTHON, command)
        over_by = time.time() + outer_s + KILL_GRACE_S
        # The GPU's device request, or its nodes and libraries (sandbox/gpu.py).
        gpu = docker_arguments(limits.gpus, client=self.client)
        environment = job_environment(job, home=WORKDIR, path=None) | gpu.pop("environment", {})
        return self.client.containers.create(
            self.image,
            # PID 1 is `timeout`: a pid namespace's init takes no signal it does not
            # handle from inside, so the job can neither stop nor kill its clock, and when
            # it exits the kernel ends every process left in the box.
            command=["timeout", "-s", "KILL", f"{outer_s:g}", *argv],
            name=f"resnet-sandbox-{uuid.uuid4().hex[:12]}",
            labels={
                LABEL: "1",
                OWNER_LABEL: worker_identity(),
                DEADLINE_LABEL: f"{over_by:.0f}",
            },
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
            init=False,  # `timeout` above is the box's init
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
        return self._serve(self._attach_start(container, limits), job, limits)

    def _attach_start(self, container: Any, limits: Limits) -> _Running:
        """Attach to the container's streams, start it, and read its output on a thread."""
        attached = container.attach_socket(
            params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        )
        sock = _raw_socket(attached)
        output = JobOutput(limits.output_bytes)
        finished = threading.Event()
        container.start()
        reader = threading.Thread(target=_pump_frames, args=(sock, output, finished), daemon=True)
        reader.start()
        return _Running(container, sock, output, finished, reader, time.monotonic())

    def _serve_warm(self, warm: _Running, job: Job, limits: Limits) -> RunResult:
        """Hand the job to a waiting container; the wall clock starts at the hand-over."""
        started = time.monotonic()
        try:
            result = self._serve(warm, job, limits)
            return dataclasses.replace(result, warm=True)
        except Exception as exc:
            return RunResult.sandbox_error(
                backend=self.name,
                wall_s=time.monotonic() - started,
                detail=f"{type(exc).__name__}: {exc}",
                image=self.image,
            )
        finally:
            try:
                warm.container.remove(force=True)
            except Exception:
                pass  # reap_leftovers() finds it by its label

    def _serve(self, running: _Running, job: Job, limits: Limits) -> RunResult:
        """Send the job's files, keep the wall clock from now, and collect the result."""
        container, sock, output = running.container, running.sock, running.output
        finished, reader = running.finished, running.reader
        output.listen(job.on_stdout)  # a warm container's output exists before its job
        # Wall-clock time, for the engine's event log (monotonic time means nothing to it).
        since = time.time() - EVENT_CLOCK_SLACK_S
        started = time.monotonic()
        timed_out = killed_by_us = False
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
                killed_by_us = True
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
        outside = None
        if not killed_by_us and not oom and code is not None and code > 128:
            outside = _killed_from_outside(self.client, container.id, since=since)
            # The box's own clock fired (only ever after ours should have): a timeout.
            timed_out = outside is None and wall >= limits.wall_s
        return _result(
            output=output,
            code=code,
            timed_out=timed_out,
            oom=oom,
            killed_from_outside=outside,
            wall=wall,
            backend=self.name,
            image=self.image,
        )


def _killed_from_outside(client: Any, container_id: str, *, since: float) -> str | None:
    """How the engine was told to kill or stop this container, if anyone told it.

    A job that kills itself (even with SIGKILL) leaves no such event: only the engine's
    own `kill` or `stop` (`docker kill`, `docker stop`, a daemon shutting down) does, and
    this backend records none of its own before asking. Returns a description or None.
    """
    try:
        events = client.events(
            since=since,
            # Now: the kill came before the exit we waited for. A later `until` would
            # hold the stream open until then.
            until=time.time(),
            filters={"container": container_id, "event": ["kill", "stop"]},
            decode=True,
        )
        for event in events:
            attributes = (event.get("Actor") or {}).get("Attributes") or {}
            signal = attributes.get("signal")
            action = event.get("Action") or event.get("status") or "kill"
            return f"{action} (signal {signal})" if signal else action
    except Exception:
        return None  # the log could not be read: judge the run by its exit alone
    return None


def _result(
    *,
    output: JobOutput,
    code: int | None,
    timed_out: bool,
    oom: bool,
    killed_from_outside: str | None = None,
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
    elif killed_from_outside:
        # Killed by the engine on someone's order while it ran: our failure, retried.
        status = Status.SANDBOX_ERROR
        detail = f"the container was killed from outside: {killed_from_outside} (exit {code})"
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


def _deadline(container: Any) -> float:
    try:
        return float(container.labels.get(DEADLINE_LABEL, "inf"))
    except ValueError:
        return float("inf")


def reap_leftovers(*, client: Any, stale_after_s: float = FOREIGN_STALE_AFTER_S) -> int:
    """Remove the containers whose worker is gone; returns how many went.

    A container of a live worker on this host is left alone, and one from another host
    (workers sharing an engine) only goes once older than `stale_after_s`; either goes
    once past its own deadline label (plus DEADLINE_REAP_SLACK_S), whoever owns it.
    """
    removed = 0
    now = time.time()
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        alive = _owner_alive(container.labels.get(OWNER_LABEL, ""))
        overdue = now > _deadline(container) + DEADLINE_REAP_SLACK_S
        if not overdue and (alive or (alive is None and _age_s(container) < stale_after_s)):
            continue
        try:
            container.remove(force=True)
            removed += 1
        except Exception:
            pass  # removed by someone else meanwhile
    return removed
