"""The lab's wall time per network, on this machine's CPU (and GPU, where torch has one).

Runs lab/harness.py's code in-process on our reference BasicBlock (no sandbox, so the
figure is the training itself), one thread as in the sandbox, at the given depths and
steps, and prints seconds, final training loss and test error per network.

usage: python benchmarks/lab.py [--depths 8,20,56] [--steps 150] [--seed 1]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", default="8,20,56")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("lab_harness", ROOT / "lab" / "harness.py")
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from grading.exercises.basic_block.reference import BasicBlock
    from lab.services import digits

    torch.set_num_threads(1)
    data = digits()
    settings = {"classes": 10, "batch": 64, "lr": 0.05, "steps": args.steps, "every": 10}
    print(f"device cpu, {args.steps} steps of batch 64, seed {args.seed}")
    print(f"{'network':<16} {'seconds':>8} {'final loss':>11} {'test error':>11}")
    for layers in (int(d) for d in args.depths.split(",")):
        for name, block in (("plain", harness.PlainBlock), ("residual", BasicBlock)):
            started = time.perf_counter()
            result = harness.run_one(block, (layers - 2) // 6, data, settings, args.seed)
            seconds = time.perf_counter() - started
            print(f"{name + ' ' + str(layers):<16} {seconds:8.1f} "
                  f"{result['train_loss'][-1]:11.3f} {result['test_error']:11.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
