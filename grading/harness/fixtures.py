"""What the harness builds its probes from: seeded weights and the small probe ResNet.

Part of the harness (harness.py loads it, inside the sandbox and in the worker alike);
only numpy and torch are used. The worker makes the same weights from the same seed, so
weights never need to travel in a job by value when a seed will do.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import torch.nn as nn

MASK64 = (1 << 64) - 1
SENTINEL = 7.0  # what init probes fill tensors with: a value no initializer produces
_CHUNK = 1 << 15  # counters per step of _uniform01: 256 KiB of uint64, cache-sized


# ---------------------------------------------------------------------------- weights


def _uniform01(seed: int, key: str, count: int) -> np.ndarray:
    """Deterministic uniforms in [0, 1): splitmix64 over a counter, the same on any machine."""
    base = (seed * 0x9E3779B97F4A7C15 + zlib.crc32(key.encode()) * 0xD1B54A32D192ED03) & MASK64
    out = np.empty(count, dtype=np.float64)
    # In place, in chunks that stay in the CPU's cache, two scratch arrays reused: the same
    # numbers as the plain expression, a ResNet-50's 25 M weights in a third of the time
    # (they are drawn twice per grading, inside the sandbox and in the worker).
    z = np.empty(min(count, _CHUNK), dtype=np.uint64)
    scratch = np.empty_like(z)
    for start in range(0, count, _CHUNK):
        n = min(_CHUNK, count - start)
        zc, sc = z[:n], scratch[:n]
        zc[:] = np.arange(start, start + n, dtype=np.uint64)
        zc *= np.uint64(0x9E3779B97F4A7C15)
        zc += np.uint64(base)
        for shift, factor in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
            np.right_shift(zc, np.uint64(shift), out=sc)
            zc ^= sc
            zc *= np.uint64(factor)
        np.right_shift(zc, np.uint64(31), out=sc)
        zc ^= sc
        zc >>= np.uint64(11)
        chunk = out[start : start + n]
        # Below 2**53 after the shift, so read as int64: the same values, and numpy
        # converts int64 to float64 a fifth faster than uint64.
        chunk[:] = zc.view(np.int64)
        chunk *= 2.0**-53
    return out


def seeded_value(seed: int, name: str, shape: list[int]) -> np.ndarray:
    """A plausible value for a state-dict entry, chosen by its name and shape.

    Weights are He-scaled (so deep nets stay finite), BatchNorm statistics are positive,
    and every entry differs from the others, so a swapped name changes the output.
    """
    shape = tuple(int(s) for s in shape)
    count = int(np.prod(shape)) if shape else 1
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "num_batches_tracked":
        return np.zeros(shape, dtype=np.int64)
    u = _uniform01(seed, name, count).reshape(shape)
    # Scaled in place (no temporaries the size of the tensor): the same values as
    # `a * u + b` written out, bit for bit.
    if leaf == "running_var":
        u += 0.5
        return u
    if leaf == "running_mean":
        return _affine(u, 0.2)
    if len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        return _affine(u, math.sqrt(6.0 / fan_in))
    if leaf == "weight":
        u += 0.5
        return u
    return _affine(u, 0.2)


def _affine(u: np.ndarray, scale: float) -> np.ndarray:
    """(2u - 1) * scale, in place, in the same order of operations as written."""
    u *= 2
    u -= 1
    u *= scale
    return u


def seeded_state(seed: int, shapes: dict[str, list[int]]) -> dict[str, np.ndarray]:
    return {name: seeded_value(seed, name, shape) for name, shape in shapes.items()}


# The model init_resnet probes are run on: torchvision's block classes by name and
# attributes, small enough to build in milliseconds, large enough for tight statistics.
class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, mid: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, mid * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(mid * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != mid * 4:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, mid * 4, 1, stride, bias=False), nn.BatchNorm2d(mid * 4)
            )


class SmallResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(BasicBlock(32, 32), BasicBlock(32, 64, 2))
        self.layer2 = nn.Sequential(Bottleneck(64, 32, 2))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(128, 10)


def small_resnet_layout() -> dict:
    """Names of the probe model's parameters by role, for the checks made outside."""
    model = SmallResNet()
    layout: dict = {"conv": {}, "bn_weight": [], "bn_bias": [], "last_bn": []}
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            w = module.weight
            layout["conv"][name + ".weight"] = {
                "fan_in": int(w.shape[1] * w.shape[2] * w.shape[3]),
                "fan_out": int(w.shape[0] * w.shape[2] * w.shape[3]),
            }
        elif isinstance(module, nn.BatchNorm2d):
            layout["bn_weight"].append(name + ".weight")
            layout["bn_bias"].append(name + ".bias")
        if isinstance(module, Bottleneck):
            layout["last_bn"].append(name + ".bn3.weight")
        elif isinstance(module, BasicBlock):
            layout["last_bn"].append(name + ".bn2.weight")
    return layout
