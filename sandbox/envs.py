"""The only environment a job gets: nothing of the worker's leaks in."""

from __future__ import annotations

from sandbox.types import Job

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def job_environment(job: Job, *, home: str, path: str | None) -> dict[str, str]:
    env = {
        "PATH": path or DEFAULT_PATH,
        "HOME": home,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "LANG": "C.UTF-8",
    }
    # One thread each: the CPU quota is one core, and more threads only thrash.
    env.update(dict.fromkeys(THREAD_VARS, "1"))
    env.update(job.env)
    return env
