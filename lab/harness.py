"""The lab's program: runs inside the sandbox, next to the learner's solution.py.

It builds CIFAR-style networks (a stem, three stages of n blocks at 16/32/64 channels,
6n+2 layers) from the learner's block and, as the baseline, from a plain block with the
same convolutions and BatchNorm but no shortcut (ours). For each depth and each kind it
measures the gradient norm reaching every block at initialisation, then trains with SGD
and momentum on the data it was given, recording the training loss and error, and the
test error at the end. It writes raw numbers only, in one frame carrying the run's nonce
(the grading harness's framing): nothing here judges anything. While it trains it also
writes short progress records, one line each, framed with a second token: the worker
reads them as they come to draw partial curves, bounds each one, and never takes the
finished result from them.

Only the standard library, numpy and torch are used. The worker also imports this file
to run the same code on our reference block in tests.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import math
import os
import sys
import time
import traceback

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTHS = (16, 32, 64)
MAX_PROGRESS_RECORDS = 2000  # the worker stops reading at its own bound anyway


class Progress:
    """Writes progress records to the real stdout; silent without a token."""

    def __init__(self, fd: int | None, token: str | None) -> None:
        self.fd, self.token, self.count = fd, token, 0

    def __call__(self, record: dict) -> None:
        if self.fd is None or not self.token or self.count >= MAX_PROGRESS_RECORDS:
            return
        self.count += 1
        body = base64.b64encode(json.dumps(_clean(record)).encode()).decode("ascii")
        os.write(self.fd, f"\n{self.token}:{body}:{self.token}\n".encode("ascii"))


def _silent(record: dict) -> None:
    pass


class PlainBlock(nn.Module):
    """The baseline: the residual block's layers without its shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))


class Net(nn.Module):
    """6n+2 layers: a 3x3 stem, 3 stages of n blocks, global pooling and a linear layer."""

    def __init__(self, block: type, n: int, in_channels: int, classes: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, WIDTHS[0], 3, 1, 1, bias=False),
            nn.BatchNorm2d(WIDTHS[0]),
            nn.ReLU(),
        )
        blocks, width = [], WIDTHS[0]
        for stage, out in enumerate(WIDTHS):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(block(width, out, stride))
                width = out
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.fc(x.mean(dim=(2, 3)))


def _init(net: nn.Module) -> None:
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def _block_grad_norms(net: Net) -> list[float]:
    """The gradient norm of each block's parameters, first block first."""
    norms = []
    for block in net.blocks:
        total = sum(float(p.grad.pow(2).sum()) for p in block.parameters() if p.grad is not None)
        norms.append(math.sqrt(total))
    return norms


def run_one(block: type, n: int, data: dict, settings: dict, seed: int, report=_silent) -> dict:
    """Gradient norms at init, then the training curve and test error of one network.
    `report` gets the progress records (without the network's index). The network and
    the data live on settings["device"]; the batch indices are drawn on the CPU so that a
    seed picks the same batches on either device."""
    device = torch.device(settings.get("device", "cpu"))
    torch.manual_seed(seed)
    x, y = torch.from_numpy(data["x_train"]), torch.from_numpy(data["y_train"])
    xt, yt = torch.from_numpy(data["x_test"]), torch.from_numpy(data["y_test"])
    x, y, xt, yt = (t.to(device) for t in (x, y, xt, yt))
    net = Net(block, n, int(x.shape[1]), int(settings["classes"]))
    _init(net)
    net.to(device)
    net.train()
    batch = int(settings["batch"])
    # One fixed batch for the gradient profile at initialisation.
    F.cross_entropy(net(x[:batch]), y[:batch]).backward()
    grad_norms = _block_grad_norms(net)
    report({"grad_norms": grad_norms})
    net.zero_grad()
    opt = torch.optim.SGD(
        net.parameters(), lr=float(settings["lr"]), momentum=0.9, weight_decay=1e-4
    )
    generator = torch.Generator().manual_seed(seed)
    steps, every = int(settings["steps"]), int(settings["every"])
    losses, errors, started = [], [], time.monotonic()
    window_loss = window_err = 0.0
    for step in range(1, steps + 1):
        idx = torch.randint(0, x.shape[0], (batch,), generator=generator).to(device)
        out = net(x[idx])
        loss = F.cross_entropy(out, y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        window_loss += float(loss.detach())
        window_err += float((out.argmax(1) != y[idx]).float().mean())
        if step % every == 0:
            losses.append(window_loss / every)
            errors.append(window_err / every)
            window_loss = window_err = 0.0
            report({"step": step, "loss": round(losses[-1], 5), "err": round(errors[-1], 4)})
    net.eval()
    with torch.no_grad():
        test_error = float((net(xt).argmax(1) != yt).float().mean())
    return {
        "layers": 6 * n + 2,
        "grad_norms": grad_norms,
        "train_loss": losses,
        "train_error": errors,
        "test_error": test_error,
        "seconds": time.monotonic() - started,
    }


def run_lab(block: type, data: dict, settings: dict, progress=_silent) -> dict:
    """Every network of the plan, in its order: for each depth, plain then residual
    (progress records name a network by its index in that order)."""
    results = []
    for n in settings["ns"]:
        for kind, cls in (("plain", PlainBlock), ("residual", block)):
            index = len(results)

            def report(record: dict, index: int = index) -> None:
                progress({"net": index, **record})

            try:
                result = run_one(cls, int(n), data, settings, int(settings["seed"]), report)
                result.update(kind=kind, error="")
                report({"done": True})
            except Exception as exc:  # the learner's block may fail at some depth
                result = {"kind": kind, "layers": 6 * int(n) + 2, "error": _error(exc)}
                report({"failed": True})
            results.append(result)
            print(f"lab: {kind} {6 * int(n) + 2} layers done", file=sys.stderr, flush=True)
    return {"networks": results}


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:400]


def _clean(value):
    """JSON-able, with non-finite floats spelled out (a diverged run is data too)."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def main() -> int:
    with open("plan.json", "rb") as f:
        plan = json.loads(f.read())
    with np.load("data.npz", allow_pickle=False) as npz:
        data = {k: npz[k] for k in npz.files}
    for name in ("plan.json", "data.npz", os.path.basename(__file__)):
        try:
            os.unlink(name)
        except OSError:
            pass
    nonce = plan.pop("nonce")
    token = plan.pop("progress", None)
    result_fd = os.dup(1)
    os.dup2(2, 1)
    torch.set_num_threads(int(plan.get("threads", 1)))
    if plan.get("device") == "cuda":
        # Asked for the GPU: without a usable one the lab stops here (exit 3, the worker
        # says it was our side), never quietly trains on the CPU. The memory share the
        # sandbox gives (SANDBOX_GPU_MEMORY_FRACTION) is set before the learner's code runs.
        if not torch.cuda.is_available():
            print("lab: no usable CUDA device in this sandbox", file=sys.stderr, flush=True)
            return 3
        share = os.environ.get("SANDBOX_GPU_MEMORY_FRACTION")
        if share:
            for index in range(torch.cuda.device_count()):
                torch.cuda.set_per_process_memory_fraction(float(share), index)
    spec = importlib.util.spec_from_file_location("solution", "solution.py")
    solution = importlib.util.module_from_spec(spec)
    sys.modules["solution"] = solution
    try:
        spec.loader.exec_module(solution)
        block = getattr(solution, plan["block"])
    except BaseException:
        traceback.print_exc()
        return 1
    payload = _clean(run_lab(block, data, plan, Progress(result_fd, token)))
    body = base64.b64encode(json.dumps(payload).encode()).decode("ascii")
    sys.stdout.flush()
    os.write(result_fd, f"\n{nonce}:{body}:{nonce}\n".encode("ascii"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
