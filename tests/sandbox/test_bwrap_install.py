"""bubblewrap under a regular (non-editable) install of the project.

Found from outside: with `pip install .`, grading/ (and every reference solution) sits in
the same site-packages as torch, and a bwrap job that was given that folder printed every
reference. Here the project is really installed into a fresh virtual environment (numpy
and torch come from the worker's environment through a .pth line, so nothing is
downloaded) and a job run by that installation's own bwrap backend looks for them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.bwrap

PROJECT_ROOT = Path(__file__).resolve().parents[2]

JOB = r"""
import importlib.util, os
found = []
for name in ("grading", "quizbank", "config", "sandbox", "django", "celery"):
    if importlib.util.find_spec(name) is not None:
        found.append("importable: " + name)
EXERCISES = {"basic_block", "bottleneck_block", "preact_block", "he_init", "param_count",
             "resnet_builder", "se_block", "residual_backward"}
for root, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/proc", "/sys", "/dev")]
    if os.path.basename(root) in EXERCISES and "reference.py" in files:
        found.append(root)
    found += [os.path.join(root, d) for d in dirs if d in ("grading", "quizbank", "harness")]
import numpy, torch
print("FOUND", found, "torch", torch.__version__.split("+")[0], "numpy ok", numpy.ones(2).sum())
"""

DRIVER = """
import json, sys
from sandbox.backends import select_backend
from sandbox.types import Job, Limits
import sandbox, grading
backend = select_backend("bwrap")
result = backend.run(Job(files={"main.py": sys.stdin.read().encode()},
                         command=["python", "main.py"]), Limits(wall_s=60, memory_mb=2048))
print(json.dumps({"status": result.status, "stdout": result.stdout.decode(),
                  "stderr": result.stderr.decode()[-2000:], "detail": result.detail,
                  "installed_at": grading.__file__}))
"""


@pytest.fixture(scope="module")
def installed_venv(tmp_path_factory, bwrap_path) -> Path:
    root = tmp_path_factory.mktemp("regular-install")
    source = root / "src"
    shutil.copytree(
        PROJECT_ROOT,
        source,
        ignore=shutil.ignore_patterns(".venv", "var", ".git", "node_modules", "*.egg-info"),
    )
    venv = root / "venv"
    base_python = Path(sys.base_prefix) / "bin" / "python3"
    subprocess.run([str(base_python), "-m", "venv", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    worker_site = next(p for p in sys.path if p.endswith("site-packages") and "torch" in
                       {c.name for c in Path(p).iterdir()})  # fmt: skip
    # numpy, torch and the rest from the worker's environment, without a download.
    (site / "worker-packages.pth").write_text(worker_site + "\n")
    # Built with the worker's own setuptools (no download), installed as a wheel.
    wheels = root / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(wheels), str(source)],
        check=True,
    )  # fmt: skip
    [wheel] = wheels.glob("*.whl")
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps",
         "--no-index", str(wheel)],
        check=True,
    )  # fmt: skip
    shutil.rmtree(source)  # the installed copy is the only one left
    return venv


def test_a_regular_install_is_installed_as_such(installed_venv: Path) -> None:
    out = subprocess.run(
        [str(installed_venv / "bin" / "python"), "-c", "import grading; print(grading.__file__)"],
        capture_output=True, text=True, check=True, cwd="/",
    )  # fmt: skip
    assert "site-packages/grading/__init__.py" in out.stdout


def test_a_bwrap_job_under_a_regular_install_sees_torch_and_none_of_the_project(
    installed_venv: Path,
) -> None:
    run = subprocess.run(
        [str(installed_venv / "bin" / "python"), "-c", DRIVER],
        input=JOB, capture_output=True, text=True, cwd="/", timeout=180,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert "site-packages/grading" in result["installed_at"]
    assert result["status"] == "ok", result
    assert "FOUND [] torch 2.13.0 numpy ok 2.0" in result["stdout"], result
