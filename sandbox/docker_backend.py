"""The production backend: one fresh, locked-down Docker container per job.

The container is created with stdin open and attached before it starts, so the job's
files go in through stdin (the root is read-only and the tmpfs exists only once the
container runs). Output is read from the same attach stream by a thread that stops
collecting at the cap (sandbox/docker_stream.py). The wall clock is kept here, outside
the box, and the container is removed once the job is over whatever happened (on a
thread: the verdict does not wait for the engine's clean-up; the reaper, which goes by
the labels of sandbox/docker_reap.py, removes what a dead worker left). The box keeps a
second clock of its own (INSIDE_GRACE_S later), so that a job whose worker died ends on
time by itself.

With the warm pool (sandbox/pool.py) a job of a shape seen before is handed to a
container started ahead, with the same isolation, that has torch imported and waits on
stdin; its wall clock starts at the hand-over.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sandbox.bootstrap import bootstrap_argv, pack_files, warm_bootstrap_argv
from sandbox.capture import JobOutput, job_result
from sandbox.docker_reap import (  # noqa: F401 - LABEL and the others: re-exported
    DEADLINE_LABEL,
    LABEL,
    OWNER_LABEL,
    labels,
    reap_leftovers,
    worker_identity,
)
from sandbox.docker_stream import close, pump_frames, raw_socket, send
from sandbox.envs import job_environment
from sandbox.gpu import device_slots, docker_arguments
from sandbox.pool import POOL_MAX_AGE_S, PoolKey, WarmPool, poolable
from sandbox.types import Job, Limits, RunResult

# The container keeps its own clock too (coreutils `timeout` as its PID 1, which nothing
# inside may stop or kill), so a job whose worker died ends by itself. It fires this long
# after the worker's own wall clock, which therefore decides every normal run.
INSIDE_GRACE_S = 5.0
PYTHON = "python3"  # the image's interpreter, on its PATH
WORKDIR = "/tmp"
# Seconds to wait for a killed container to be reported as exited before giving up on it.
KILL_GRACE_S = 10.0
# Seconds before a run's start from which the engine's event log is searched for a kill
# of its container (the engine's clock may lag the worker's a little).
EVENT_CLOCK_SLACK_S = 5.0

# Containers whose job is over are removed here, off the verdict's path.
_REMOVER = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sandbox-remove")


def _remove(container: Any) -> None:
    try:
        container.remove(force=True)
    except Exception:
        pass  # reap_leftovers() finds it by its label


def remove_later(container: Any) -> None:
    try:
        _REMOVER.submit(_remove, container)
    except RuntimeError:  # the interpreter is shutting down
        _remove(container)


@dataclasses.dataclass
class _Running:
    """A started container with its attached streams, waiting for (or running) a job."""

    container: Any
    sock: socket.socket
    output: JobOutput
    finished: threading.Event
    reader: threading.Thread
    started_at: float

    def usable(self) -> bool:
        if self.finished.is_set() or self.output.stdout.value() or self.output.ready:
            return False  # the waiter exited, or wrote before its job arrived
        if not self.output.waiting.is_set():
            return False  # still importing: never handed a job (the pool waits for this)
        if time.monotonic() - self.started_at > POOL_MAX_AGE_S:
            return False
        try:
            self.container.reload()
        except Exception:
            return False
        return self.container.status == "running"

    def discard(self) -> None:
        _remove(self.container)
        close(self.sock)

    def warmed(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.output.waiting.wait(0.1):
            if self.finished.is_set() or time.monotonic() > deadline:
                return False
        return True


# Warm containers of this process, by job shape (sandbox/pool.py); the image tag leads
# the key, so a new tag drains the old one's waiters.
POOL: WarmPool[_Running] = WarmPool("docker")


def pool_key(image: str, job: Job, limits: Limits) -> PoolKey:
    return (image, limits, tuple(sorted(job.env.items())), tuple(job.command))


def pool_drain() -> int:
    """Remove every waiting container of this process; returns how many."""
    return POOL.drain()


class DockerBackend:
    name = "docker"

    def __init__(self, *, client: Any, image: str) -> None:
        self.client = client
        self.image = image

    def run(self, job: Job, limits: Limits) -> RunResult:
        started = time.monotonic()
        container = None
        if poolable(job, limits):
            key = pool_key(self.image, job, limits)
            warm = POOL.take(key)
            if warm is not None:
                try:
                    return self._serve_warm(warm, job, limits)
                finally:
                    # Once the job is over: a box importing torch beside the job would
                    # take the CPU from it (and from the reference's measurement).
                    self._refill(key, job, limits)
            self._refill(key, job, limits)  # this job runs cold meanwhile
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
                remove_later(container)

    def _refill(self, key: PoolKey, job: Job, limits: Limits) -> None:
        def start() -> _Running:
            container = self._create(job, limits, warm=True)
            try:
                return self._attach_start(container, limits)
            except Exception:
                _remove(container)
                raise

        POOL.refill(key, start)

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
            labels=labels(over_by=over_by),
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
        sock = raw_socket(attached)
        output = JobOutput(limits.output_bytes)
        finished = threading.Event()
        container.start()
        reader = threading.Thread(target=pump_frames, args=(sock, output, finished), daemon=True)
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
            remove_later(warm.container)

    def _serve(self, running: _Running, job: Job, limits: Limits) -> RunResult:
        """Send the job's files, keep the wall clock from now, and collect the result."""
        container, sock, output = running.container, running.sock, running.output
        finished, reader = running.finished, running.reader
        output.listen(job.on_stdout)  # a warm container's output exists before its job
        # Wall-clock time, for the engine's event log (monotonic time means nothing to it).
        since = time.time() - EVENT_CLOCK_SLACK_S
        started = time.monotonic()
        timed_out = killed_by_us = cancelled = False
        try:
            # Sent from a thread: a stuck reader inside must not stop the clock out here.
            threading.Thread(target=send, args=(sock, pack_files(job.files)), daemon=True).start()
            deadline = started + limits.wall_s
            while not finished.is_set() and not output.over_cap.is_set():
                if job.cancel_requested():
                    cancelled = True
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                finished.wait(min(left, 0.05))
            if not finished.is_set() or output.over_cap.is_set():
                # Close our end first: a stream nobody reads would stall the engine's
                # copy from the container, and with it the kill.
                close(sock)
                killed_by_us = True
                try:
                    container.kill()
                except Exception:
                    pass  # already gone
            state = container.wait(timeout=KILL_GRACE_S)
            wall = time.monotonic() - started
        finally:
            close(sock)
            reader.join(timeout=2)
        container.reload()
        oom = bool(container.attrs["State"].get("OOMKilled"))
        code = state.get("StatusCode")
        outside = None
        if not killed_by_us and not oom and code is not None and code > 128:
            outside = _killed_from_outside(self.client, container.id, since=since)
            # The box's own clock fired (only ever after ours should have): a timeout.
            timed_out = outside is None and wall >= limits.wall_s
        return job_result(
            output=output,
            code=code,
            timed_out=timed_out,
            oom=oom,
            killed_from_outside=outside,
            cancelled=cancelled,
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
