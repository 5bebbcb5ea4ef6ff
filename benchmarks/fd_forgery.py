"""What a finite-difference forgery of the at-scale gradients would cost, per exercise.

A block whose forward is right and whose backward is not (a detached skip) could report
central differences of its own forward instead of autograd's gradients. The at-scale
probes are sized so that this cannot finish inside the time limit. This script measures
one forward pass of the reference on each at-scale probe, on one CPU thread as in the
sandbox, and prints the number of passes finite differences need (two per input element
and parameter) and the time they would take, against the exercise's wall-time limit.

A batched forgery (many perturbations per call) saves Python overhead, not arithmetic; the
FLOP column is what it cannot avoid.

usage: python benchmarks/fd_forgery.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from grading.engine import _registry  # noqa: E402
from grading.harness import harness_module  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    harness = harness_module()
    print(f"{'exercise':18} {'probe':42} {'passes':>9} {'1 pass':>9} {'FD total':>10} limit")
    for slug, ex in _registry().items():
        plan = ex.build(seed=1, sample=False)
        reference = ex.reference_module()
        for spec in plan.probes:
            if spec.get("kind") != "module" or spec["id"] not in ("big", "skip"):
                continue
            factory = getattr(reference, spec["factory"])
            module = factory(*spec["args"], **spec["kwargs"]).to(torch.float64)
            module.train(spec.get("mode") == "train")
            x = torch.from_numpy(np.array(plan.arrays[spec["id"] + "/x"]))
            n_params = sum(p.numel() for p in module.parameters())
            passes = 2 * (x.numel() + n_params)
            times = []
            with torch.no_grad():
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    module(x)
                    times.append(time.perf_counter() - t0)
            one = statistics.median(times)
            label = f"{spec['id']}: x {tuple(x.shape)}, {n_params:,} params"
            print(
                f"{slug:18} {label:42} {passes:9,} {one * 1e3:7.2f}ms {passes * one:9.0f}s "
                f"{ex.limits.wall_s:.0f}s"
            )
        for spec in plan.probes:
            if spec.get("kind") == "call" and spec.get("fn") == "residual_backward":
                x = plan.arrays[spec["args"][0]["array"]]
                w1 = plan.arrays[spec["args"][1]["array"]]
                w2 = plan.arrays[spec["args"][2]["array"]]
                if x.size < 10_000:
                    continue
                passes = 2 * (x.size + w1.size + w2.size)
                times = []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    _ = x + np.maximum(x @ w1.T, 0) @ w2.T
                    times.append(time.perf_counter() - t0)
                one = statistics.median(times)
                label = f"{spec['id']}: x {x.shape}, W1 {w1.shape}"
                print(
                    f"{slug:18} {label:42} {passes:9,} {one * 1e3:7.2f}ms "
                    f"{passes * one:9.0f}s {ex.limits.wall_s:.0f}s"
                )
    del harness


if __name__ == "__main__":
    main()
