"""Sandbox overhead per backend: p50 and p95 wall time of an empty job and of a job that
imports torch and runs a small forward and backward pass.

usage: python benchmarks/sandbox_overhead.py [--runs 20] [--backend docker --backend bwrap]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox.backends import select_backend  # noqa: E402
from sandbox.types import Job, Limits, SandboxUnavailable, Status  # noqa: E402

JOBS = {
    "empty": b"pass\n",
    "torch fwd+bwd": b"""
import torch
torch.manual_seed(0)
net = torch.nn.Sequential(
    torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
    torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, 10),
)
loss = net(torch.randn(8, 3, 32, 32)).logsumexp(1).mean()
loss.backward()
print(float(loss))
""",
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(backend_name: str, source: bytes, runs: int) -> list[float]:
    backend = select_backend(backend_name)
    job = Job(files={"main.py": source}, command=["python", "main.py"])
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        result = backend.run(job, Limits(wall_s=60))
        times.append(time.perf_counter() - began)
        if result.status != Status.OK:
            raise SystemExit(
                f"{backend_name}: {result.status} {result.detail} {result.stderr[-400:]!r}"
            )
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--backend", action="append", choices=["docker", "bwrap"])
    args = parser.parse_args()
    print(f"{'backend':8} {'job':14} {'runs':>4} {'p50 s':>7} {'p95 s':>7} {'mean s':>7}")
    for name in args.backend or ["docker", "bwrap"]:
        try:
            select_backend(name)
        except SandboxUnavailable as exc:
            print(f"{name:8} unavailable: {exc}")
            continue
        for label, source in JOBS.items():
            times = measure(name, source, args.runs)
            print(
                f"{name:8} {label:14} {len(times):>4} {percentile(times, 0.5):7.3f} "
                f"{percentile(times, 0.95):7.3f} {statistics.fmean(times):7.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
