"""The first program that runs inside a sandbox, and the payload it reads.

A read-only root and a tmpfs mounted only at start leave stdin as the one way in: the
bootstrap reads the job's files from stdin (a count, then name and content of each, all
length-prefixed: no tar, whose safe extraction the image's Python 3.11.2 lacks), writes them into the
job's folder on the tmpfs, points stdin at /dev/null, says it is ready on stderr, and
execs the job's command. The ready marker is how the outside tells "our setup failed"
(sandbox_error) from "the candidate's code failed": code that runs after the exec cannot
unsay it, and nothing the job writes comes before it.
"""

from __future__ import annotations

import json

READY = b"\x00sandbox-ready\x00"
# Said on stderr by a warm waiter once its imports are done: only then may it get a job,
# whose wall clock must not pay for the rest of an import.
WAITING = b"\x00sandbox-waiting\x00"
JOB_DIR = "/tmp/job"
SETUP_FAILED_EXIT = 121

# Run as `python3 -I -c BOOTSTRAP ARGV_JSON` (-I: no user site, no PYTHON* variables).
BOOTSTRAP = f"""
import json, os, sys
try:
    src = sys.stdin.buffer
    def take(size):
        chunks, got = [], 0
        while got < size:
            chunk = src.read(min(size - got, 1 << 20))
            if not chunk:
                raise EOFError("payload cut short")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)
    os.makedirs({JOB_DIR!r}, exist_ok=True)
    for _ in range(int.from_bytes(take(4), "big")):
        name = take(int.from_bytes(take(4), "big")).decode()
        parts = name.split("/")
        if name.startswith("/") or ".." in parts or "" in parts:
            raise ValueError("bad file name %r" % name)
        path = os.path.join({JOB_DIR!r}, *parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            out.write(take(int.from_bytes(take(8), "big")))
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.chdir({JOB_DIR!r})
    argv = json.loads(sys.argv[1])
    sys.stderr.buffer.write({READY!r})
    sys.stderr.buffer.flush()
except BaseException as exc:
    sys.stderr.write("sandbox setup failed: %r\\n" % (exc,))
    sys.stderr.flush()
    os._exit({SETUP_FAILED_EXIT})
try:
    os.execvp(argv[0], argv)
except OSError as exc:
    sys.stderr.write("cannot run %s: %s\\n" % (argv[0], exc.strerror))
    sys.stderr.flush()
    os._exit(127)
"""


# The warm variant, for the pool of containers started ahead of their job: it imports the
# heavy modules first (torch, numpy: about 2 s), then blocks on stdin exactly like
# BOOTSTRAP, and runs a `python -I [-B] SCRIPT ARGS...` command in this same interpreter
# (as __main__; this interpreter runs with -I too, so the script sees the same
# sys.path and ignores the same variables), so the imports are not paid again. Any other
# command is exec'd.
WARM_BOOTSTRAP = (
    f"""
import importlib, json, types
for _name in json.loads(__import__("sys").argv[2]):
    try:
        importlib.import_module(_name)
    except Exception:
        pass  # the job imports it itself and reports its own error
__import__("sys").stderr.buffer.write({WAITING!r})
__import__("sys").stderr.buffer.flush()
"""
    + BOOTSTRAP.split("try:\n    os.execvp", 1)[0]
    + """
flags = [a for a in argv[1:] if a.startswith("-")]
rest = [a for a in argv[1:] if not a.startswith("-")]
if os.path.basename(argv[0]).startswith("python") and "-I" in flags and set(flags) <= {"-I", "-B"} and rest:
    # The job runs in this process, where a cold job would run (its parent is the box's
    # init, as when cold); a forked child is its clock from the hand-over on (PID 1's
    # `timeout` covers the wait) and kills it at the deadline, which ends the box.
    deadline_s = float(sys.argv[3])
    job = os.getpid()
    if os.fork() == 0:
        import signal, time
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            time.sleep(min(0.2, max(0.0, end - time.monotonic())))
            if os.getppid() != job:
                os._exit(0)  # the job is over
        try:
            os.kill(job, signal.SIGKILL)
        finally:
            os._exit(0)
    sys.argv = rest
    sys.dont_write_bytecode = True
    code = 0
    # As a fresh Python runs a script: a new __main__ whose __file__ (and tracebacks) name
    # the absolute path, while sys.argv keeps the command's own words.
    script = os.path.abspath(rest[0])
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=script, __cached__=None, __loader__=None,
                         __package__=None, __spec__=None, __builtins__=__builtins__)
    try:
        with open(script, "rb") as source:
            compiled = compile(source.read(), script, "exec", dont_inherit=True)
        sys.modules["__main__"] = main
        exec(compiled, main.__dict__)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            sys.stderr.write("%s\\n" % (exc.code,))
    except BaseException as exc:
        import traceback
        # From the script's first frame on, as a fresh Python prints it (none of ours; a
        # syntax error has no frame of the script, and prints with none).
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != script:
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code & 0xFF)
try:
    os.execvp(argv[0], argv)
except OSError as exc:
    sys.stderr.write("cannot run %s: %s\\n" % (argv[0], exc.strerror))
    sys.stderr.flush()
    os._exit(127)
"""
)
# What a waiter imports before its job: torch and numpy, and the one module torch loads
# lazily on a job's first `meta` device build. Not sympy with torch's symbolic shapes
# (some 490 modules, 0.3-0.7 s of CPU in every box): torch imports them only for a
# backward pass given an explicit gradient tensor, which the harness no longer does (it
# differentiates sum(y * g)); a job whose own code does so pays for it itself.
PRELOAD = (
    "numpy",
    "torch",
    "torch.utils._device",
)


def warm_servable(command: list[str]) -> bool:
    """Whether WARM_BOOTSTRAP runs `command` in-process, exactly as a fresh Python would."""
    flags = [a for a in command[1:] if a.startswith("-")]
    rest = [a for a in command[1:] if not a.startswith("-")]
    return (
        bool(command)
        and command[0].startswith("python")
        and "-I" in flags
        and set(flags) <= {"-I", "-B"}
        and bool(rest)
    )


def warm_bootstrap_argv(python: str, command: list[str], *, deadline_s: float) -> list[str]:
    """`deadline_s`: how long the job may run after its hand-over, kept from inside."""
    return [
        python, "-I", "-c", WARM_BOOTSTRAP, json.dumps(command), json.dumps(list(PRELOAD)),
        f"{deadline_s:g}",
    ]  # fmt: skip


def pack_files(files: dict[str, bytes]) -> bytes:
    """The job's files in the length-prefixed form BOOTSTRAP reads."""
    parts = [len(files).to_bytes(4, "big")]
    for name, data in sorted(files.items()):
        encoded = name.encode()
        parts += [len(encoded).to_bytes(4, "big"), encoded, len(data).to_bytes(8, "big"), data]
    return b"".join(parts)


def bootstrap_argv(python: str, command: list[str]) -> list[str]:
    return [python, "-I", "-c", BOOTSTRAP, json.dumps(command)]
