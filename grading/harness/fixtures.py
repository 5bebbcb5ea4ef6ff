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
_CHUNK = 1 << 15  # counters per step of _uniform: 128 KiB of uint32, cache-sized
_GOLDEN32 = 0x9E3779B9


# ---------------------------------------------------------------------------- weights


def _uniform(
    seed: int, key: str, count: int, low: float, width: float, dtype: type = np.float64
) -> np.ndarray:
    """`count` deterministic uniforms in [low, low + width), of `dtype` (float64 or
    float32, rounded once from the same hash), the same on any machine: a 32-bit counter
    hash (lowbias32) keyed by the seed and the entry's name.

    32 bits, not 64: numpy's SIMD loops run twice the lanes on uint32, so a ResNet-50's
    25 M weights take under half the time of a 64-bit hash (they are drawn twice per
    grading, inside the sandbox and in the worker); 2**32 steps within [low, low + width)
    are far finer than any check needs. The counter is multiplied (a bijection) and XORed
    with the key before mixing, so two entries' streams are not shifted copies of each
    other. Worked in cache-sized chunks, scaled and shifted while the chunk is in cache.
    """
    base = (seed * 0x9E3779B97F4A7C15 + zlib.crc32(key.encode()) * 0xD1B54A32D192ED03) & MASK64
    key32 = np.uint32((base >> 32) ^ (base & 0xFFFFFFFF))
    scale = width * 2.0**-32
    out = np.empty(count, dtype=dtype)
    size = min(count, _CHUNK)
    counter = np.arange(size, dtype=np.uint32)
    z = np.empty(size, dtype=np.uint32)
    scratch = np.empty_like(z)
    for start in range(0, count, _CHUNK):
        n = min(_CHUNK, count - start)
        zc, sc = z[:n], scratch[:n]
        np.add(counter[:n], np.uint32(start), out=zc)
        zc *= np.uint32(_GOLDEN32)
        zc ^= key32
        for shift, factor in ((16, 0x7FEB352D), (15, 0x846CA68B)):
            np.right_shift(zc, np.uint32(shift), out=sc)
            zc ^= sc
            zc *= np.uint32(factor)
        np.right_shift(zc, np.uint32(16), out=sc)
        zc ^= sc
        chunk = out[start : start + n]
        chunk[:] = zc
        chunk *= scale
        chunk += low
    return out


def seeded_value(seed: int, name: str, shape: list[int], dtype: type = np.float64) -> np.ndarray:
    """A plausible value for a state-dict entry, chosen by its name and shape, in `dtype`
    (a float32 probe draws float32 directly: half the memory to fault in and fill).

    Weights are He-scaled (uniform in +-sqrt(6 / fan_in), so deep nets stay finite),
    BatchNorm statistics are positive, and every entry differs from the others, so a
    swapped name changes the output.
    """
    shape = tuple(int(s) for s in shape)
    count = int(np.prod(shape)) if shape else 1
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "num_batches_tracked":
        return np.zeros(shape, dtype=np.int64)
    if leaf == "running_var" or (leaf == "weight" and len(shape) < 2):
        low, width = 0.5, 1.0  # BatchNorm scales and variances: in [0.5, 1.5)
    elif len(shape) >= 2:
        bound = math.sqrt(6.0 / int(np.prod(shape[1:])))
        low, width = -bound, 2 * bound
    else:
        low, width = -0.2, 0.4  # biases and running means
    return _uniform(seed, name, count, low, width, dtype).reshape(shape)


def seeded_state(
    seed: int, shapes: dict[str, list[int]], dtype: type = np.float64
) -> dict[str, np.ndarray]:
    return {name: seeded_value(seed, name, shape, dtype) for name, shape in shapes.items()}


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
