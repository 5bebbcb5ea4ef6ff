"""The local backend: bubblewrap, for Linux hosts without Docker.

The same interface and statuses as the Docker backend. Namespaces come from bwrap
(--unshare-all: no network, own pid/ipc/uts/user namespaces; --die-with-parent). The
host's system folders, this interpreter's installation and the packages a job imports
(numpy, torch and what they require) are bound read-only; nothing else of the worker's
environment is, so the reference solutions stay out of reach however the project is
installed. Limits: cgroup v1
memory/pids/cpu controllers where this process may create groups (as root), or a cgroup
v2 folder with the memory and pids controllers (SANDBOX_CGROUP_PARENT, or the top of a v2
hierarchy as root); without either, bwrap refuses to run a job and says why. RLIMIT_NPROC
and a seccomp filter like Docker's default (sandbox/seccomp.py) are set on every job; the
wall clock is kept from outside.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO

from sandbox.bootstrap import bootstrap_argv, pack_files
from sandbox.capture import JobOutput
from sandbox.envs import job_environment
from sandbox.gpu import bwrap_arguments, device_slots
from sandbox.seccomp import filter_program
from sandbox.types import Job, Limits, RunResult

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_PARENT = "resnet-sandbox"
SITE_PACKAGES = "/opt/site-packages"  # where the worker's packages appear inside
NOBODY = 65534
# Host folders a Python needs; each is bound read-only where it exists.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime")


def interpreter() -> str:
    return os.path.realpath(sys.executable)


# What a job imports: the harness needs numpy and torch, and nothing of the worker's own.
JOB_PACKAGES = ("numpy", "torch")


def _requirement_name(text: str) -> str | None:
    """The distribution a requirement names, or None when its marker leaves it out here."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return None
    if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
        return None  # an extra, or another Python or platform
    return requirement.name


@functools.cache
def job_package_entries() -> tuple[tuple[str, str], ...]:
    """(name, host path) of each top-level entry of the packages a job needs.

    The requirement closure of JOB_PACKAGES, read from the installed distributions'
    metadata: their modules, data folders (numpy.libs, ...) and dist-info. A job sees these
    and nothing else of the worker's environment, so a regular (non-editable) install of
    this project, whose packages sit in the same site-packages, stays out of reach.
    """
    from importlib import metadata

    entries: dict[str, str] = {}
    seen: set[str] = set()
    todo = list(JOB_PACKAGES)
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for file in dist.files or []:
            top = file.parts[0] if file.parts else ""
            if not top or top == ".." or top in entries or top == "__pycache__":
                continue
            host = os.path.realpath(str(dist.locate_file(top)))
            if os.path.exists(host):
                entries[top] = host
        todo += [n for n in map(_requirement_name, dist.requires or []) if n]
    return tuple(sorted(entries.items()))


@functools.cache
def _interpreter_site_dir() -> str | None:
    """The site-packages folder the bare interpreter (outside any venv) reads at start."""
    asked = subprocess.run(
        [interpreter(), "-I", "-c", "import site, json; print(json.dumps(site.getsitepackages()))"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin"},
    )
    if asked.returncode != 0:
        return None
    for folder in json.loads(asked.stdout):
        if os.path.isdir(folder):
            return folder
    return None


def bwrap_argv(bwrap: str, limits: Limits) -> tuple[list[str], list[str]]:
    """The bwrap command line, and the in-sandbox folders to put on PYTHONPATH."""
    argv = [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
    ]
    # --disable-userns: no nested user namespace in which the job could be root again.
    argv += ["--uid", str(NOBODY), "--gid", str(NOBODY), "--disable-userns", "--clearenv"]
    for folder in SYSTEM_DIRS:
        if os.path.islink(folder):
            argv += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            argv += ["--ro-bind", folder, folder]
    for path in SYSTEM_FILES:
        if os.path.exists(path):
            argv += ["--ro-bind", path, path]
    base = os.path.realpath(sys.base_prefix)
    if not any(base == d or base.startswith(d + os.sep) for d in SYSTEM_DIRS):
        argv += ["--ro-bind", base, base]
    # The packages a job needs are bound one by one into an empty read-only folder laid
    # over the interpreter's own site folder, so that they load even under `python -I`,
    # which ignores PYTHONPATH. Nothing else of the worker's environment is visible: not
    # the project (an editable install points there), not its packages (a regular install
    # puts grading/, with the reference solutions, next to torch).
    paths = []
    target = _interpreter_site_dir()
    if target is None:
        target = SITE_PACKAGES
        paths.append(target)
    argv += ["--tmpfs", target]
    for name, host in job_package_entries():
        argv += ["--ro-bind", host, f"{target}/{name}"]
    argv += ["--remount-ro", target]
    argv += ["--proc", "/proc", "--dev", "/dev", "--hostname", "sandbox"]
    argv += ["--size", str(limits.tmpfs_mb * 1024 * 1024), "--tmpfs", "/tmp", "--chdir", "/tmp"]
    # A GPU's nodes and the driver's libraries (sandbox/gpu.py), before / and /dev turn
    # read-only: bwrap makes their mount points first.
    argv += bwrap_arguments(limits.gpus)[0]
    # bwrap builds the root and /dev on writable tmpfs mounts of its own (/dev/shm would
    # be a second writable place): make both read-only. /tmp is its own mount and stays
    # writable; writes to device nodes such as /dev/null still work.
    argv += ["--remount-ro", "/", "--remount-ro", "/dev"]
    return argv, paths


class Cgroup:
    """One job's cgroup v1 groups (memory, pids, cpu), removed after the job."""

    CONTROLLERS = ("memory", "pids", "cpu")

    def __init__(self, limits: Limits) -> None:
        # The worker's pid leads the name, so reap_leftovers() knows whose group it was.
        name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.paths = {c: CGROUP_ROOT / c / CGROUP_PARENT / name for c in self.CONTROLLERS}
        for path in self.paths.values():
            path.mkdir(parents=True)
        memory = self.paths["memory"]
        size = str(limits.memory_mb * 1024 * 1024)
        (memory / "memory.limit_in_bytes").write_text(size)
        if (memory / "memory.memsw.limit_in_bytes").exists():
            (memory / "memory.memsw.limit_in_bytes").write_text(size)  # no swap
        (self.paths["pids"] / "pids.max").write_text(str(limits.pids))
        cpu = self.paths["cpu"]
        (cpu / "cpu.cfs_period_us").write_text("100000")
        (cpu / "cpu.cfs_quota_us").write_text(str(int(limits.cpus * 100000)))

    @staticmethod
    def available() -> bool:
        return all(
            os.access(CGROUP_ROOT / c, os.W_OK) and (CGROUP_ROOT / c / "cgroup.procs").exists()
            for c in Cgroup.CONTROLLERS
        )

    def procs_files(self) -> list[str]:
        return [str(path / "cgroup.procs") for path in self.paths.values()]

    def oom_killed(self) -> bool:
        try:
            text = (self.paths["memory"] / "memory.oom_control").read_text()
        except OSError:
            return False
        fields = dict(line.split() for line in text.splitlines() if line.strip())
        return int(fields.get("oom_kill", "0")) > 0

    @classmethod
    def leftovers(cls) -> list[Cgroup]:
        """Groups made by workers that are no longer running."""
        found = []
        parent = CGROUP_ROOT / "pids" / CGROUP_PARENT
        for path in parent.iterdir() if parent.is_dir() else []:
            owner = path.name.split("-", 1)[0]
            if path.is_dir() and owner.isdigit() and not Path(f"/proc/{owner}").exists():
                group = cls.__new__(cls)
                group.paths = {
                    c: CGROUP_ROOT / c / CGROUP_PARENT / path.name for c in cls.CONTROLLERS
                }
                found.append(group)
        return found

    def pids(self) -> list[int]:
        try:
            text = (self.paths["pids"] / "cgroup.procs").read_text()
        except OSError:
            return []
        return [int(line) for line in text.split()]

    def destroy(self) -> None:
        """Kill whatever is still inside (a child that escaped the session), then remove."""
        deadline = time.monotonic() + 5
        while self.pids() and time.monotonic() < deadline:
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)
        for path in self.paths.values():
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)  # the last process is still being torn down


class CgroupV2:
    """One job's group in a cgroup v2 subtree this worker may write (memory, pids, cpu).

    The subtree is SANDBOX_CGROUP_PARENT (a delegated folder, e.g. from systemd's
    Delegate=yes), else resnet-sandbox/ at the top of a v2 hierarchy when the worker is
    root. Jobs are its leaves, named like the v1 groups so leftovers are found the same way.
    """

    NEEDED = ("memory", "pids")

    def __init__(self, limits: Limits, parent: Path) -> None:
        self.parent = parent
        self.path = parent / f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.path.mkdir()
        size = str(limits.memory_mb * 1024 * 1024)
        (self.path / "memory.max").write_text(size)
        if (self.path / "memory.swap.max").exists():
            (self.path / "memory.swap.max").write_text("0")
        (self.path / "pids.max").write_text(str(limits.pids))
        if (self.path / "cpu.max").exists():
            (self.path / "cpu.max").write_text(f"{int(limits.cpus * 100000)} 100000")

    @classmethod
    def prepare(cls, parent: Path) -> str:
        """Make `parent` ready for job groups; '' when ready, else why it cannot be."""
        try:
            if not (parent / "cgroup.controllers").exists():
                if parent.parent.joinpath("cgroup.controllers").exists() and os.access(
                    parent.parent, os.W_OK
                ):
                    parent.mkdir(exist_ok=True)
                else:
                    return f"{parent} is not a cgroup v2 folder this worker may write"
            available = (parent / "cgroup.controllers").read_text().split()
            missing = [c for c in cls.NEEDED if c not in available]
            if missing:
                return f"{parent} lacks the {' and '.join(missing)} controller(s)"
            enabled = (parent / "cgroup.subtree_control").read_text().split()
            wanted = [c for c in (*cls.NEEDED, "cpu") if c in available and c not in enabled]
            if wanted:
                (parent / "cgroup.subtree_control").write_text(" ".join("+" + c for c in wanted))
        except OSError as exc:
            return f"cannot use {parent}: {exc.strerror or exc}"
        return ""

    def procs_files(self) -> list[str]:
        return [str(self.path / "cgroup.procs")]

    def oom_killed(self) -> bool:
        try:
            text = (self.path / "memory.events").read_text()
        except OSError:
            return False
        fields = dict(line.split() for line in text.splitlines() if line.strip())
        return int(fields.get("oom_kill", "0")) > 0

    def pids(self) -> list[int]:
        try:
            return [int(x) for x in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    @classmethod
    def leftovers(cls, parent: Path) -> list[CgroupV2]:
        found = []
        for path in parent.iterdir() if parent.is_dir() else []:
            owner = path.name.split("-", 1)[0]
            if path.is_dir() and owner.isdigit() and not Path(f"/proc/{owner}").exists():
                group = cls.__new__(cls)
                group.parent, group.path = parent, path
                found.append(group)
        return found

    def destroy(self) -> None:
        kill = self.path / "cgroup.kill"
        deadline = time.monotonic() + 5
        while self.pids() and time.monotonic() < deadline:
            try:
                kill.write_text("1")  # Linux 5.14+: every process inside, at once
            except OSError:
                for pid in self.pids():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            time.sleep(0.02)
        for _ in range(50):
            try:
                self.path.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.02)


class LimitsUnavailable(RuntimeError):
    """No memory and pids limit can be applied to a bwrap job here; the text says why."""


HOW_TO_LIMIT = (
    "bubblewrap jobs need a memory and a pids limit: run the worker as root on a cgroup v1 "
    "host, or give it a cgroup v2 folder with the memory and pids controllers "
    "(SANDBOX_CGROUP_PARENT=/sys/fs/cgroup/<delegated folder>; with systemd, Delegate=yes), "
    "or use the Docker backend"
)


def limit_mechanism() -> tuple[str, Path | None]:
    """("cgroup1", None) or ("cgroup2", parent folder); LimitsUnavailable otherwise.

    An explicit SANDBOX_CGROUP_PARENT wins; then cgroup v1 controllers this worker may
    write; then a v2 hierarchy at /sys/fs/cgroup that root may use.
    """
    explicit = os.environ.get("SANDBOX_CGROUP_PARENT", "").strip()
    if explicit:
        why = CgroupV2.prepare(Path(explicit))
        if why:
            raise LimitsUnavailable(f"{why}; {HOW_TO_LIMIT}")
        return "cgroup2", Path(explicit)
    if Cgroup.available():
        return "cgroup1", None
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        parent = CGROUP_ROOT / CGROUP_PARENT
        why = CgroupV2.prepare(parent)
        if not why:
            return "cgroup2", parent
        raise LimitsUnavailable(f"{why}; {HOW_TO_LIMIT}")
    raise LimitsUnavailable(f"no writable cgroup v1 memory/pids/cpu controllers; {HOW_TO_LIMIT}")


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


class BwrapBackend:
    name = "bwrap"

    def __init__(self, *, bwrap: str) -> None:
        self.bwrap = bwrap
        self.image = None

    def run(self, job: Job, limits: Limits) -> RunResult:
        started = time.monotonic()
        cgroup: Cgroup | CgroupV2 | None = None
        try:
            # Never without a memory and a pids limit: LimitsUnavailable is our error.
            mechanism, parent = limit_mechanism()
            if mechanism == "cgroup2" and parent is not None:
                cgroup = CgroupV2(limits, parent)
            else:
                cgroup = Cgroup(limits)
            # A GPU job waits here for its device's slot; GpuUnavailable is our error.
            with device_slots(limits.gpus):
                return self._drive(job, limits, cgroup)
        except Exception as exc:  # a failure of ours, never the candidate's
            return RunResult.sandbox_error(
                backend=self.name,
                wall_s=time.monotonic() - started,
                detail=f"{type(exc).__name__}: {exc}",
            )
        finally:
            if cgroup is not None:
                cgroup.destroy()

    def _drive(self, job: Job, limits: Limits, cgroup: Cgroup | CgroupV2) -> RunResult:
        from sandbox.docker_backend import _result

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
        output.listen(job.on_stdout)
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
        started = time.monotonic()
        readers = [
            threading.Thread(target=_pump, args=(process.stdout, output.feed_stdout), daemon=True),
            threading.Thread(target=_pump, args=(process.stderr, output.feed_stderr), daemon=True),
        ]
        for reader in readers:
            reader.start()
        timed_out = False
        try:
            # Sent from a thread: a stuck reader inside must not stop the clock out here.
            payload = pack_files(job.files)
            threading.Thread(target=_send, args=(process.stdin, payload), daemon=True).start()
            deadline = started + limits.wall_s
            while process.poll() is None and not output.over_cap.is_set():
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
            code = process.wait(timeout=10)
            wall = time.monotonic() - started
            oom = cgroup.oom_killed()
        finally:
            if process.poll() is None:
                _kill_group(process.pid)
                process.wait(timeout=10)
            cgroup.destroy()
            # Everything of the job is dead now, so the pipes reach end-of-file: let the
            # readers take the last bytes before closing (closing unblocks a stuck one).
            for reader in readers:
                reader.join(timeout=2)
            for stream in (process.stdout, process.stderr):
                stream.close()  # type: ignore[union-attr]
        if code < 0:  # killed by a signal: report it the way a shell (and docker) would
            code = 128 - code
        return _result(
            output=output,
            code=code,
            timed_out=timed_out,
            oom=oom,
            wall=wall,
            backend=self.name,
            image=None,
        )


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def reap_leftovers() -> int:
    """Kill what a dead worker's jobs left running and remove their groups; returns how many."""
    try:
        mechanism, parent = limit_mechanism()
    except LimitsUnavailable:
        return 0
    groups: list[Cgroup] | list[CgroupV2] = (
        CgroupV2.leftovers(parent) if mechanism == "cgroup2" and parent else Cgroup.leftovers()
    )
    for group in groups:
        group.destroy()
    return len(groups)
