"""What a bubblewrap sandbox sees: the host's system folders, this interpreter, and the
packages a job imports (numpy, torch and what they require), all read-only; nothing else
of the worker's environment, so the reference solutions stay out of reach however the
project is installed. A tmpfs at /tmp is the one writable place.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys

from sandbox.gpu import bwrap_arguments
from sandbox.types import Limits

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
