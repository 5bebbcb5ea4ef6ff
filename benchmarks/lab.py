"""The lab's wall time per network, on this machine's CPU (and GPU, where torch has one).

Runs lab/harness.py's code in-process on our reference BasicBlock (no sandbox, so the
figure is the training itself), one thread as in the sandbox, at the given depths and
steps, and prints seconds, final training loss and test error per network.

With --sandbox it runs one whole lab the way the worker does (the Docker or bubblewrap
sandbox, SANDBOX_BACKEND; the given depths and steps) and prints its wall time, when the
first progress record and each network's last one arrived, and how many records came.

usage: python benchmarks/lab.py [--depths 20,56] [--steps 200] [--seed 1] [--sandbox]
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
    parser.add_argument("--depths", default="20,56")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sandbox", action="store_true", help="one whole lab in the sandbox")
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("lab_harness", ROOT / "lab" / "harness.py")
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from grading.exercises.basic_block.reference import BasicBlock
    from lab.services import digits

    if args.sandbox:
        return sandboxed(args)
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


def sandboxed(args: argparse.Namespace) -> int:
    """One lab through lab_execute, timing the progress records as the worker reads them."""
    from django.conf import settings as django_settings

    from lab.progress import LabProgress
    from lab.services import lab_defaults, lab_execute

    reference = (ROOT / "grading/exercises/basic_block/reference.py").read_text()
    plan = {**lab_defaults(), "seed": args.seed, "steps": args.steps,
            "ns": [(int(d) - 2) // 6 for d in args.depths.split(",")]}  # fmt: skip
    progress = LabProgress(plan)
    arrivals: list[tuple[float, list[int]]] = []
    feed = progress.feed

    def timed_feed(chunk: bytes) -> None:
        before = progress.version
        feed(chunk)
        if progress.version != before:
            steps = [net["step"] for net in progress.snapshot()["networks"]]
            arrivals.append((time.perf_counter() - started, steps))

    progress.feed = timed_feed  # type: ignore[method-assign]
    started = time.perf_counter()
    result, problem, wall = lab_execute(
        code=reference, exercise="basic-block", settings_=plan,
        backend=django_settings.SANDBOX_BACKEND, image=django_settings.SANDBOX_IMAGE or None,
        progress=progress,
    )  # fmt: skip
    total = time.perf_counter() - started
    if result is None:
        print(problem)
        return 1
    print(f"sandbox lab: depths {args.depths}, {args.steps} steps, seed {args.seed}")
    print(f"wall {total:.1f} s (sandbox's own clock {wall:.1f} s); "
          f"{progress.records} progress records")  # fmt: skip
    print(f"first progress record after {arrivals[0][0]:.1f} s")
    for index, net in enumerate(result["networks"]):
        done = next(t for t, steps in arrivals if steps[index] == args.steps)
        print(
            f"  {net['kind']} {net['layers']}: last step seen at {done:.1f} s, "
            f"{net['seconds']:.1f} s of training, final loss {net['train_loss'][-1]:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
