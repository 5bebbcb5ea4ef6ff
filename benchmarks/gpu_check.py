"""The device tests on a real GPU: the reference and two wrong variants per exercise.

    python benchmarks/gpu_check.py [--seed N] [--only SLUG] [--json FILE]

Needs torch with CUDA and a GPU, and no Docker: each solution runs in a subprocess
through the real harness (grading/harness/harness.py, the job's files exactly as the
engine builds them, the GPU memory share set), and the worker's comparison decides
against the reference measured on the CPU. Expected: the reference passes every device
test, and each wrong variant (tests/grading/device_variants/) fails at least one.

Without CUDA it says so and does a dry run: the device tests run on the CPU. That checks
the plumbing and the float32 tolerances; the wrong variants then pass, since their
mistakes only show with a GPU present. Either way it prints one table and takes well
under 5 minutes (the dry run: 1 minute of CPU, under 3 minutes on a busy 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

VARIANTS = ROOT / "tests" / "grading" / "device_variants"
RUN_TIMEOUT_S = 120


def run_harness(job, *, env: dict[str, str]) -> tuple[bytes, bytes, int, float]:
    """The job's files in a fresh folder, the harness run there as the sandbox would."""
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as folder:
        for name, data in job.files.items():
            Path(folder, name).write_bytes(data)
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, *job.command[1:]],
            cwd=folder,
            capture_output=True,
            timeout=RUN_TIMEOUT_S,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": folder, **job.env, **env},
        )
        return done.stdout, done.stderr, done.returncode, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--only", help="one exercise's slug")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)

    import torch

    from grading import engine
    from grading.compare import parse_frame
    from grading.exercises import all_exercises
    from grading.exercises._device import device_plan, device_reference, has_device_tests
    from grading.verdict import outcomes_compute

    on_gpu = torch.cuda.is_available()
    device = "cuda" if on_gpu else "cpu"
    if on_gpu:
        name = torch.cuda.get_device_name(0)
        memory = torch.cuda.get_device_properties(0).total_memory / 2**30
        print(
            f"GPU: {name}, {memory:.0f} GiB; torch {torch.__version__}, CUDA {torch.version.cuda}"
        )
    else:
        print(
            f"no GPU (torch {torch.__version__}, torch.cuda.is_available() is False): dry run, "
            "the device tests run on the CPU and the wrong variants are expected to pass"
        )
    seed = args.seed if args.seed is not None else secrets.randbits(62)
    env = {"SANDBOX_GPU_MEMORY_FRACTION": "0.5"} if on_gpu else {}
    rows = []
    overall = time.monotonic()
    for ex in all_exercises():
        if args.only and ex.slug != args.only:
            continue
        plan = ex.build(seed=seed, sample=False)
        if not has_device_tests(plan):
            print(f"{ex.slug}: no device tests (not a PyTorch module)")
            continue
        reference = engine.reference_measure(exercise=ex, plan=plan)
        dplan = device_plan(plan, device=device)
        dreference = device_reference(dplan, reference)
        folder = VARIANTS / ex.reference.split(".")[2]
        reference_path = Path(ex.reference_module().__file__)
        solutions = [("reference", reference_path)] + [
            (p.stem, p) for p in sorted(folder.glob("wrong_*.py"))
        ]
        for label, path in solutions:
            nonce = secrets.token_hex(16)
            job = engine.job_build(plan=dplan, source=path.read_text(), nonce=nonce)
            stdout, stderr, code, wall = run_harness(job, env=env)
            frame = parse_frame(stdout, nonce)
            if frame is None or frame.get("device_unavailable"):
                outcomes = []
                problem = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [
                    f"exit {code}"
                ]
            else:
                outcomes = outcomes_compute(
                    plan=dplan, candidate=frame["probes"], reference=dreference
                )
                problem = [o.name for o in outcomes if not o.passed][:1]
            passed = sum(o.passed for o in outcomes)
            total = len(dplan.checks)
            wants_pass = label == "reference" or not on_gpu
            ok = (passed == total) if wants_pass else (passed < total)
            rows.append({
                "exercise": ex.slug, "solution": label, "passed": passed, "total": total,
                "expected": "pass" if wants_pass else "fail", "as_expected": ok,
                "wall_s": round(wall, 2), "first_failure": (problem or [""])[0][:70],
            })  # fmt: skip
    elapsed = time.monotonic() - overall

    header = f"{'exercise':18} {'solution':28} {'device tests':>12} {'expected':>8} {'ok':>3} {'s':>6}  first failing test"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['exercise']:18} {r['solution']:28} {r['passed']:>5}/{r['total']:<6} "
            f"{r['expected']:>8} {'yes' if r['as_expected'] else 'NO':>3} {r['wall_s']:>6.1f}  "
            f"{r['first_failure']}"
        )
    good = all(r["as_expected"] for r in rows)
    print(f"\n{'GPU' if on_gpu else 'CPU dry run'}: {sum(r['as_expected'] for r in rows)} of "
          f"{len(rows)} as expected, {elapsed:.0f} s in all (seed {seed})")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"device": device, "seed": seed, "rows": rows}, indent=1))
    return 0 if good else 1


if __name__ == "__main__":
    import django

    django.setup()
    sys.exit(main())
