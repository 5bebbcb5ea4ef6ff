"""The local backend: bubblewrap, for Linux hosts without Docker.

The same interface and statuses as the Docker backend. Namespaces come from bwrap
(--unshare-all: no network, own pid/ipc/uts/user namespaces; --die-with-parent); what
the box sees is laid out in sandbox/bwrap_mounts.py. Limits: one cgroup per job
(sandbox/cgroups.py: memory, pids, cpu); without one, bwrap refuses to run a job and says
why. RLIMIT_NPROC and a seccomp filter like Docker's default (sandbox/seccomp.py) are set
on every job; the wall clock is kept from outside.

With the warm pool (sandbox/pool.py) a job of a shape seen before is handed to a sandbox
process spawned ahead, in its own cgroup, that has torch imported and waits on its stdin
pipe; its wall clock starts at the hand-over, and the process serves that job only.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import IO

from sandbox.bootstrap import bootstrap_argv, pack_files, warm_bootstrap_argv
from sandbox.bwrap_mounts import bwrap_argv, interpreter
from sandbox.capture import JobOutput, job_result
from sandbox.cgroups import (  # noqa: F401 - LimitsUnavailable and the others: re-exported
    CGROUP_PARENT,
    CGROUP_ROOT,
    Cgroup,
    CgroupV2,
    LimitsUnavailable,
    limit_mechanism,
    make_cgroup,
    reap_leftovers,
)
from sandbox.envs import job_environment
from sandbox.gpu import bwrap_arguments, device_slots
from sandbox.pool import POOL_MAX_AGE_S, PoolKey, WarmPool, poolable
from sandbox.seccomp import filter_program
from sandbox.types import Job, Limits, RunResult

# A waiting process's own watchdog (WARM_BOOTSTRAP) ends its job this long after the
# worker's wall clock would have, should the worker's clock fail.
INSIDE_GRACE_S = 5.0
# Seconds to wait for a killed sandbox to be reported as exited.
KILL_GRACE_S = 10.0


def _send(stream: IO[bytes] | None, payload: bytes) -> None:
    assert stream is not None
    try:
        stream.write(payload)
        stream.close()
    except (OSError, ValueError):
        pass  # it died before reading everything; its exit says why


def _pump(stream: IO[bytes] | None, feed: Callable[[bytes], None]) -> None:
    assert stream is not None
    while True:
        try:
            chunk = stream.read1(1 << 16)  # type: ignore[attr-defined]
        except (OSError, ValueError):
            return  # closed under us once the job is over
        if not chunk:
            return
        feed(chunk)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# Joins the wrapper shell to the job's cgroups and sets rlimits before exec'ing bwrap, so
# that every process of the job starts inside its limits (no race after Popen).
WRAPPER = """
for f in $SANDBOX_CGROUP_PROCS; do echo $$ > "$f" || exit 125; done
ulimit -c 0
ulimit -p "$SANDBOX_NPROC" || exit 125
# No POSIX message queue bytes: the job's tmpfs stays its only storage (dash has no -q).
prlimit --pid $$ --msgqueue=0:0 || exit 125
exec "$@"
"""


@dataclasses.dataclass
class _Process:
    """A spawned sandbox with its output read on threads, waiting for (or running) a job."""

    process: subprocess.Popen[bytes]
    cgroup: Cgroup | CgroupV2
    output: JobOutput
    readers: list[threading.Thread]
    started_at: float

    def usable(self) -> bool:
        if self.process.poll() is not None:
            return False  # the waiter died
        if self.output.stdout.value() or self.output.ready:
            return False  # it wrote before its job arrived
        if not self.output.waiting.is_set():
            return False  # still importing: never handed a job (the pool waits for this)
        return time.monotonic() - self.started_at <= POOL_MAX_AGE_S

    def warmed(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.output.waiting.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                return False
        return True

    def discard(self) -> None:
        """Kill everything of it, remove its group, and collect the last of its output."""
        process = self.process
        if process.poll() is None:
            _kill_group(process.pid)
            process.wait(timeout=KILL_GRACE_S)
        self.cgroup.destroy()
        # Everything of the job is dead now, so the pipes reach end-of-file: let the
        # readers take the last bytes before closing (closing unblocks a stuck one).
        for reader in self.readers:
            reader.join(timeout=2)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass


# bwrap's --die-with-parent follows the *thread* that started it: a waiter started by the
# pool's short-lived refill thread would be killed when that thread ends. Waiters are
# therefore started by this one thread, which lives as long as the process.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bwrap-spawner")

# Waiting sandboxes of this process, by job shape (sandbox/pool.py). The key leads with
# bwrap, the interpreter and the cgroup mechanism: a change of any drains the waiters.
POOL: WarmPool[_Process] = WarmPool("bwrap")


def pool_drain() -> int:
    """Kill every waiting sandbox of this process; returns how many."""
    return POOL.drain()


class BwrapBackend:
    name = "bwrap"

    def __init__(self, *, bwrap: str) -> None:
        self.bwrap = bwrap
        self.image = None

    def pool_key(self, job: Job, limits: Limits) -> PoolKey:
        generation = (self.bwrap, interpreter(), *map(str, limit_mechanism()))
        return (generation, limits, tuple(sorted(job.env.items())), tuple(job.command))

    def run(self, job: Job, limits: Limits) -> RunResult:
        started = time.monotonic()
        try:
            if poolable(job, limits):
                key = self.pool_key(job, limits)  # LimitsUnavailable: our error, below
                warm = POOL.take(key)
                if warm is not None:
                    try:
                        return dataclasses.replace(self._serve(warm, limits, job), warm=True)
                    finally:
                        # Once the job is over: an import beside it would slow it down.
                        self._refill(key, job, limits)
                self._refill(key, job, limits)  # this job runs cold meanwhile
            # A GPU job waits here for its device's slot; GpuUnavailable is our error.
            with device_slots(limits.gpus):
                return self._serve(self._spawn(job, limits, warm=False), limits, job)
        except Exception as exc:  # a failure of ours, never the candidate's
            return RunResult.sandbox_error(
                backend=self.name,
                wall_s=time.monotonic() - started,
                detail=f"{type(exc).__name__}: {exc}",
            )

    def _refill(self, key: PoolKey, job: Job, limits: Limits) -> None:
        POOL.refill(key, lambda: _SPAWNER.submit(self._spawn, job, limits, warm=True).result())

    def _spawn(self, job: Job, limits: Limits, *, warm: bool) -> _Process:
        """Start the sandbox in a new group; it blocks on stdin until its job's files come."""
        # Never without a memory and a pids limit: LimitsUnavailable is our error.
        cgroup = make_cgroup(limits)
        try:
            return self._popen(job, limits, cgroup, warm=warm)
        except BaseException:
            cgroup.destroy()
            raise

    def _popen(
        self, job: Job, limits: Limits, cgroup: Cgroup | CgroupV2, *, warm: bool
    ) -> _Process:
        python = interpreter()
        argv, site_paths = bwrap_argv(self.bwrap, limits)
        env = job_environment(
            job, home="/tmp", path=f"{os.path.dirname(python)}:/usr/local/bin:/usr/bin:/bin"
        )
        if site_paths:
            env["PYTHONPATH"] = ":".join(site_paths)
        env.update(bwrap_arguments(limits.gpus)[1])
        for key, value in env.items():
            argv += ["--setenv", key, value]
        command = [
            python if i == 0 and part == "python" else part for i, part in enumerate(job.command)
        ]
        if warm:
            deadline_s = limits.wall_s + INSIDE_GRACE_S
            argv += ["--", *warm_bootstrap_argv(python, command, deadline_s=deadline_s)]
        else:
            argv += ["--", *bootstrap_argv(python, command)]
        wrapper_env = {
            "PATH": "/usr/bin:/bin",
            "SANDBOX_CGROUP_PROCS": " ".join(cgroup.procs_files()),
            # RLIMIT_NPROC too: a second bound on processes, per user, set before exec.
            "SANDBOX_NPROC": str(limits.pids),
        }
        # The seccomp program travels on a pipe that bwrap reads once (--seccomp FD).
        program = filter_program()
        seccomp_read, seccomp_write = os.pipe()
        os.write(seccomp_write, program)  # a few KB: fits the pipe's buffer
        os.close(seccomp_write)
        argv[1:1] = ["--seccomp", str(seccomp_read)]
        output = JobOutput(limits.output_bytes)
        try:
            process = subprocess.Popen(
                [shutil.which("sh") or "/bin/sh", "-c", WRAPPER, "sh", *argv],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=wrapper_env,
                start_new_session=True,  # one process group to kill from outside
                close_fds=True,
                pass_fds=(seccomp_read,),
            )
        finally:
            os.close(seccomp_read)
        readers = [
            threading.Thread(target=_pump, args=(process.stdout, output.feed_stdout), daemon=True),
            threading.Thread(target=_pump, args=(process.stderr, output.feed_stderr), daemon=True),
        ]
        for reader in readers:
            reader.start()
        return _Process(process, cgroup, output, readers, time.monotonic())

    def _serve(self, running: _Process, limits: Limits, job: Job) -> RunResult:
        """Send the job's files, keep the wall clock from now, and collect the result."""
        process, output = running.process, running.output
        output.listen(job.on_stdout)  # a waiter's output exists before its job
        started = time.monotonic()
        timed_out = cancelled = False
        try:
            # Sent from a thread: a stuck reader inside must not stop the clock out here.
            payload = pack_files(job.files)
            threading.Thread(target=_send, args=(process.stdin, payload), daemon=True).start()
            deadline = started + limits.wall_s
            while process.poll() is None and not output.over_cap.is_set():
                if job.cancel_requested():
                    cancelled = True
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                try:
                    process.wait(timeout=min(left, 0.05))
                except subprocess.TimeoutExpired:
                    pass
            if process.poll() is None:
                _kill_group(process.pid)
            code = process.wait(timeout=KILL_GRACE_S)
            wall = time.monotonic() - started
            oom = running.cgroup.oom_killed()
        finally:
            running.discard()
        if code < 0:  # killed by a signal: report it the way a shell (and docker) would
            code = 128 - code
        return job_result(
            output=output,
            code=code,
            timed_out=timed_out,
            oom=oom,
            cancelled=cancelled,
            wall=wall,
            backend=self.name,
            image=None,
        )
