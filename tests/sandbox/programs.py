"""The adversarial programs: what each does, and the status it must end with.

Each program runs under small limits (ADVERSARIAL_LIMITS) so the suite stays quick. A
program that checks a defence itself exits 0 only when every attempt was refused, so
"ok" means "the defence held", and any success makes it fail loudly.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field

from sandbox.types import Limits, Status

ADVERSARIAL_LIMITS = Limits(wall_s=5.0, memory_mb=384, pids=32, output_bytes=64 * 1024, tmpfs_mb=16)
# Importing torch alone takes about 2 s on a loaded 2-core host, and a cgroup near its
# limit first evicts torch's mapped libraries before the OOM killer acts.
TORCH_LIMITS = dataclasses.replace(ADVERSARIAL_LIMITS, wall_s=15.0)


@dataclass(frozen=True)
class Program:
    name: str
    source: bytes
    expected: Status
    extra_files: dict[str, bytes] = field(default_factory=dict)
    stdout_has: bytes = b""
    limits: Limits = ADVERSARIAL_LIMITS


def _p(name: str, source: str, expected: Status, **kwargs: object) -> Program:
    return Program(name, source.encode(), expected, **kwargs)  # type: ignore[arg-type]


REFUSED = """
import sys
held = []
def attempt(what, action):
    try:
        action()
    except Exception as exc:
        held.append(what)
        print("refused:", what, type(exc).__name__)
    else:
        print("ALLOWED:", what)
        sys.exit(1)
"""

PROGRAMS: list[Program] = [
    _p(
        "fork_bomb",
        """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
""",
        Status.TIMEOUT,
    ),
    _p(
        "thread_bomb",
        """
import threading, time
while True:
    threading.Thread(target=time.sleep, args=(1000,), daemon=True).start()
""",
        Status.RUNTIME_ERROR,
    ),
    _p(
        "memory_bomb_python_lists",
        """
hoard = []
while True:
    hoard.append([0] * 1_000_000)
""",
        Status.MEMORY_LIMIT,
    ),
    _p(
        "memory_bomb_numpy",
        """
import numpy as np
a = np.ones((256, 1 << 20))  # 2 GiB, touched page by page
print(a.sum())
""",
        Status.MEMORY_LIMIT,
    ),
    _p(
        "memory_bomb_torch_tensor",
        """
import torch
t = torch.ones(1 << 29)  # 2 GiB of float32
print(t.sum())
""",
        Status.MEMORY_LIMIT,
        limits=TORCH_LIMITS,
    ),
    _p("cpu_spin", "while True:\n    pass\n", Status.TIMEOUT),
    _p("sleep_forever", "import time\ntime.sleep(10**6)\n", Status.TIMEOUT),
    _p(
        "sigterm_ignored",
        """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
while True:
    time.sleep(1)
""",
        Status.TIMEOUT,
    ),
    _p(
        "stdout_flood",
        """
import sys
while True:
    sys.stdout.write("x" * 65536 + "\\n")
""",
        Status.OUTPUT_LIMIT,
    ),
    _p(
        "stderr_flood",
        """
import sys
while True:
    sys.stderr.write("e" * 4096 + "\\n")
""",
        Status.OUTPUT_LIMIT,
    ),
    _p(
        "one_huge_line_without_newline",
        """
import sys
sys.stdout.write("y" * 100_000_000)
""",
        Status.OUTPUT_LIMIT,
    ),
    _p(
        "streams_closed_then_hang",
        """
import os, time
os.close(1)
os.close(2)
time.sleep(10**6)
""",
        Status.TIMEOUT,
    ),
    _p(
        "fill_the_tmpfs",
        """
import errno
try:
    with open("/tmp/fill", "wb") as out:
        while True:
            out.write(b"\\0" * (1 << 20))
            out.flush()
except OSError as exc:
    assert exc.errno == errno.ENOSPC, exc
    print("tmpfs full: ENOSPC")
""",
        Status.OK,
        stdout_has=b"tmpfs full: ENOSPC",
    ),
    _p(
        "write_to_read_only_root",
        REFUSED
        + """
for path in ["/etc/passwd-x", "/usr/evil", "/evil", "/bin/evil", "/var/tmp/x", "/dev/shm/x", "/run/x"]:
    attempt(path, lambda: open(path, "wb").write(b"x"))
print("all refused", len(held))
""",
        Status.OK,
        stdout_has=b"all refused 7",
    ),
    _p(
        "read_the_workers_environment",
        """
import os
print(dict(os.environ))
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            print(pid, open(f"/proc/{pid}/environ", "rb").read())
        except OSError as exc:
            print(pid, "refused", exc)
""",
        Status.OK,
    ),
    _p(
        "read_the_project_files",
        REFUSED
        + """
import os
root = os.environ["PROJECT_ROOT"]
attempt(root, lambda: os.listdir(root))
attempt("grading", lambda: os.listdir(os.path.join(root, "grading")))
attempt("pyproject", lambda: open(os.path.join(root, "pyproject.toml")).read())
found = []
# Everything but the kernel's files and the (large) installed software.
skip = {"/proc", "/sys", "/dev", "/usr"} | {p for p in sys.path if p.startswith("/")}
for top, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(top, d) not in skip and d != "site-packages"]
    if "pyproject.toml" in files or "manage.py" in files or "grading" in dirs:
        found.append(top)
print("project copies found:", found)
sys.exit(1 if found else 0)
""",
        Status.OK,
        stdout_has=b"project copies found: []",
    ),
    _p(
        "every_socket_family",
        REFUSED
        + """
import socket
def tcp(host, port):
    socket.create_connection((host, port), timeout=1).close()
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"x", ("8.8.8.8", 53))
def raw():
    socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
def unix(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
attempt("tcp postgres", lambda: tcp("127.0.0.1", 5432))
attempt("tcp redis", lambda: tcp("127.0.0.1", 6379))
attempt("tcp outside", lambda: tcp("1.1.1.1", 443))
attempt("tcp ipv6", lambda: tcp("2606:4700:4700::1111", 443))
attempt("udp outside", udp)
attempt("dns lookup", lambda: socket.getaddrinfo("pypi.org", 443))
attempt("raw packet socket", raw)
attempt("docker.sock", lambda: unix("/var/run/docker.sock"))
attempt("run docker.sock", lambda: unix("/run/docker.sock"))
print("all refused", len(held))
""",
        Status.OK,
        stdout_has=b"all refused 9",
    ),
    _p(
        "proc_snooping_for_host_processes",
        """
import os, sys
names = []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            names.append(open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\\0", b" "))
        except OSError:
            pass
print(len(names), names)
host = [n for n in names if any(w in n for w in (b"dockerd", b"postgres", b"redis", b"pytest", b"containerd"))]
sys.exit(1 if host or len(names) > 8 else 0)
""",
        Status.OK,
    ),
    _p(
        "kill_the_parent",
        """
import os, sys
try:
    os.kill(os.getppid(), 9)
except OSError as exc:
    print("refused", exc)
print("still here, parent", os.getppid())
""",
        Status.OK,
        stdout_has=b"still here",
    ),
    _p(
        "spawn_a_shell_and_binaries",
        """
import subprocess
print(subprocess.run(["sh", "-c", "id -u; ls / > /dev/null; echo shell-ran"], capture_output=True, text=True).stdout)
""",
        Status.OK,
        stdout_has=b"65534\nshell-ran",
    ),
    _p(
        "setuid_and_ptrace",
        REFUSED
        + """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def check(ok, what):
    if not ok:
        raise OSError(ctypes.get_errno(), what)
def ptrace_init():
    # Attaching to the box's own init (same uid) may work; it must never reach past it.
    attached = libc.ptrace(16, 1, 0, 0) == 0
    if attached:
        os.waitpid(1, 0x40000000)  # __WALL: wait for the attach stop, then let it go
        libc.ptrace(17, 1, 0, 0)
    print("ptrace of the box's init:", "attached and detached" if attached else "refused")
    raise OSError("not an escape either way")
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
attempt("setuid 0", lambda: os.setuid(0))
attempt("setgid 0", lambda: os.setgid(0))
attempt("setresuid", lambda: check(libc.setresuid(0, 0, 0) == 0, "setresuid"))
attempt("chroot", lambda: os.chroot("/tmp"))
attempt("ptrace", ptrace_init)
attempt("effective capabilities", lambda: check(int(status["CapEff"], 16) != 0, "none"))
attempt("permitted capabilities", lambda: check(int(status["CapPrm"], 16) != 0, "none"))
attempt("new privileges", lambda: check(status["NoNewPrivs"].strip() != "1", "no_new_privs"))
print("all refused", len(held))
""",
        Status.OK,
        stdout_has=b"all refused 8",
    ),
    _p("ctypes_null_dereference", "import ctypes\nctypes.string_at(0)\n", Status.RUNTIME_ERROR),
    _p(
        "recursion_overflow",
        """
def down(n):
    return down(n + 1) + 1
down(0)
""",
        Status.RUNTIME_ERROR,
    ),
    # Python 3.11 keeps Python frames on the heap, so lifting the limit exhausts memory.
    _p(
        "recursion_with_the_limit_lifted",
        """
import sys
sys.setrecursionlimit(10**8)
def down(n):
    return down(n + 1) + 1
down(0)
""",
        Status.MEMORY_LIMIT,
    ),
    _p(
        "infinite_loop_at_import_time",
        "import candidate\n",
        Status.TIMEOUT,
        extra_files={"candidate.py": b"while True:\n    pass\n"},
    ),
    _p(
        "daemon_child_left_running",
        """
import os, time
if os.fork() == 0:
    os.setsid()
    time.sleep(10**6)
print("parent leaves")
""",
        Status.OK,
        stdout_has=b"parent leaves",
    ),
    Program("binary_garbage_as_source", random.Random(7).randbytes(4096), Status.RUNTIME_ERROR),
    Program(
        "one_megabyte_source",
        b"x = 1\n" * 174763 + b"print('big source ran')\n",
        Status.OK,
        stdout_has=b"big source ran",
    ),
    _p(
        "output_that_is_not_utf8",
        """
import sys
sys.stdout.buffer.write(bytes(range(256)))
sys.stderr.buffer.write(b"\\xff\\xfe\\x80")
""",
        Status.OK,
        stdout_has=bytes(range(256)),
    ),
    _p(
        "only_the_job_folder_is_writable",
        """
import ctypes, ctypes.util, os, sys
cwd = os.getcwd()  # inside the job's tmpfs, the one place a job may write
writable = []
for root, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/proc", "/sys")]
    try:
        fd = os.open(os.path.join(root, ".probe-write"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except OSError:
        continue
    os.close(fd)
    os.unlink(os.path.join(root, ".probe-write"))
    writable.append(root)
# POSIX message queues live outside any folder: mq_open must fail too.
rt = ctypes.CDLL(ctypes.util.find_library("rt") or "librt.so.1", use_errno=True)
rt.mq_open.restype = ctypes.c_int
queue = rt.mq_open(b"/sandbox-probe", os.O_CREAT | os.O_RDWR, 0o600, None)
mounts = [line.split() for line in open("/proc/self/mountinfo")]
tmpfs_root = {m[4] for m in mounts if m[m.index("-") + 1] == "tmpfs" and cwd.startswith(m[4])}
inside = all(w == "/tmp" or w.startswith("/tmp/") for w in writable)
if writable and inside and "/tmp" in tmpfs_root and queue == -1:
    print("ONLY-THE-JOB-FOLDER")
else:
    print("WRITABLE:", writable, "tmpfs:", tmpfs_root, "mq_open:", queue)
    sys.exit(1)
""",
        Status.OK,
        stdout_has=b"ONLY-THE-JOB-FOLDER",
    ),
    _p("kills_itself", "import os\nos.kill(os.getpid(), 9)\n", Status.RUNTIME_ERROR),
    _p("nonzero_exit", "import sys\nsys.exit(3)\n", Status.RUNTIME_ERROR),
    _p(
        "threads_pinned_to_one",
        """
import os, torch
print(os.environ["OMP_NUM_THREADS"], os.environ["MKL_NUM_THREADS"], os.environ["OPENBLAS_NUM_THREADS"], torch.get_num_threads())
""",
        Status.OK,
        stdout_has=b"1 1 1 1",
        limits=TORCH_LIMITS,
    ),
    _p(
        "new_user_namespace_for_root",
        REFUSED
        + """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def unshare_user():
    if libc.unshare(0x10000000) != 0:
        raise OSError(ctypes.get_errno(), "unshare refused")
    open("/proc/self/setgroups", "w").write("deny")
    open("/proc/self/uid_map", "w").write(f"0 {os.getuid()} 1")
    os.setuid(0)
    os.mkdir("/escape")
attempt("mkdir on the root as user-namespace root", unshare_user)
print("all refused", len(held))
""",
        Status.OK,
        stdout_has=b"all refused 1",
    ),
]
