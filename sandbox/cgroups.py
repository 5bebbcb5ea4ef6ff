"""Memory, pids and CPU limits for bubblewrap jobs: one cgroup (v1 or v2) per job.

Cgroup v1 memory/pids/cpu controllers where this process may create groups (as root),
or a cgroup v2 folder with the memory and pids controllers (SANDBOX_CGROUP_PARENT, or the
top of a v2 hierarchy as root); without either, LimitsUnavailable says why. A group's
name starts with its worker's pid, so the groups of dead workers are found and removed.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

from sandbox.types import Limits

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_PARENT = "resnet-sandbox"


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


def make_cgroup(limits: Limits) -> Cgroup | CgroupV2:
    """A new group with these limits; LimitsUnavailable when none can be made here."""
    mechanism, parent = limit_mechanism()
    if mechanism == "cgroup2" and parent is not None:
        return CgroupV2(limits, parent)
    return Cgroup(limits)


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
