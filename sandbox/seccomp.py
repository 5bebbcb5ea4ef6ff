"""The seccomp filter of bubblewrap jobs: Docker's default profile, in its intent.

Docker applies its default seccomp profile to every container; bubblewrap applies none
unless given one (`--seccomp FD`, a compiled BPF program). This filter refuses, with
EPERM, the system calls Docker's default profile refuses to an unprivileged container:
kernel keyrings, module and kexec loading, mounts and namespace changes, BPF and perf
events, userfaultfd and io_uring, clock and swap changes, reading other processes'
memory, and a few obsolete ones. Everything else is allowed, as in Docker's profile.

libseccomp (through pyseccomp, a ctypes binding) compiles the program for this machine's
architecture. Written here rather than taken from a file of Docker's, since that profile
is an allow list tied to Docker's runtime; this deny list is the part that matters once
bwrap has already dropped every capability and unshared every namespace.
"""

from __future__ import annotations

import errno
import functools
import tempfile

# Refused outright (EPERM). Names unknown to this kernel's table are skipped.
DENIED: tuple[str, ...] = (
    # kernel keyrings
    "add_key", "keyctl", "request_key",
    # modules, kexec, reboot
    "init_module", "finit_module", "delete_module", "create_module", "kexec_load",
    "kexec_file_load", "reboot",
    # mounts, namespaces, root changes
    "mount", "umount", "umount2", "pivot_root", "chroot", "setns", "unshare",
    "mount_setattr", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
    # tracing and other processes' memory
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "perf_event_open", "bpf",
    "lookup_dcookie", "userfaultfd",
    # io_uring (Docker refuses it since 25.0)
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    # clocks, swap, accounting, quotas, the kernel log
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "stime", "swapon",
    "swapoff", "acct", "quotactl", "quotactl_fd", "syslog", "vhangup",
    # handles on files outside the job's view, raw I/O ports, obsolete calls
    "open_by_handle_at", "name_to_handle_at", "iopl", "ioperm", "uselib", "sysfs",
    "_sysctl", "nfsservctl", "get_kernel_syms", "query_module", "fanotify_init",
    "move_pages", "mbind", "set_mempolicy", "migrate_pages",
)  # fmt: skip


class SeccompUnavailable(RuntimeError):
    """No filter can be compiled here (no libseccomp); the caller refuses to run."""


@functools.cache
def filter_program() -> bytes:
    """The compiled BPF program for bwrap's --seccomp."""
    try:
        import pyseccomp as seccomp
    except (ImportError, OSError) as exc:  # pyseccomp missing, or libseccomp.so.2 missing
        raise SeccompUnavailable(f"no libseccomp: {exc}") from None
    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    refuse = seccomp.ERRNO(errno.EPERM)
    for name in DENIED:
        try:
            rules.add_rule(refuse, name)
        except (ValueError, RuntimeError, OSError):
            continue  # not a system call of this architecture
    with tempfile.TemporaryFile() as out:
        rules.export_bpf(out)
        out.seek(0)
        return out.read()
