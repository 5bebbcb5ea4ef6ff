"""Exercise 6: build ResNet-18/34/50/101/152 with torchvision's structure and names."""

from __future__ import annotations

import numpy as np

from grading.exercises import BUILDER_LIMITS, Check, Exercise, TestPlan
from grading.exercises._blocks import (
    check_output_shape,
    input_grad_check,
    output_values_check,
    structure_checks,
)

STATEMENT = """\
Write `resnet(depth, num_classes=1000)` returning an `nn.Module` for depth 18, 34, 50, 101
or 152 with torchvision's structure and parameter names, so that torchvision's state dicts
would load into it strictly:

- stem: `conv1` (7x7, 3 -> 64, stride 2, padding 3, no bias), `bn1`, ReLU, `maxpool`
  (3x3, stride 2, padding 1);
- `layer1` ... `layer4`: `nn.Sequential`s of blocks with widths 64, 128, 256, 512; basic
  blocks for 18 (2-2-2-2) and 34 (3-4-6-3), bottlenecks (expansion 4, stride on the 3x3)
  for 50 (3-4-6-3), 101 (3-4-23-3) and 152 (3-8-36-3); the first block of layer2-4 has
  stride 2; a block gets a `downsample` (1x1 conv + BatchNorm) when its shape changes;
- `avgpool` (`AdaptiveAvgPool2d((1, 1))`), flatten, `fc` (`Linear`, with bias);
- any other depth raises `ValueError`.

Blocks use the attribute names of the basic-block and bottleneck exercises (put your block
classes in the same file). Expected sizes: 11,689,512 / 21,797,672 / 25,557,032 /
44,549,160 / 60,192,808 parameters with 1000 classes.

Tests: total and per-stage parameter counts and the exact state-dict names and shapes for
every depth; output shape and values (eval mode, secret weights) of ResNet-18 in float64
and ResNet-50 in float32 on a small input, and ResNet-18's gradient with respect to its
input.
"""

STARTER = '''\
import torch
import torch.nn as nn


class BasicBlock(nn.Module):
    expansion = 1
    # conv1, bn1, conv2, bn2, downsample: as in the basic-block exercise


class Bottleneck(nn.Module):
    expansion = 4
    # conv1, bn1, conv2, bn2, conv3, bn3, downsample: as in the bottleneck exercise


def resnet(depth: int, num_classes: int = 1000) -> nn.Module:
    """torchvision's resnet<depth>: conv1, bn1, maxpool, layer1..layer4, avgpool, fc."""
    raise NotImplementedError
'''

HINTS = [
    "Everything is decided by two things: the block type and the number of blocks per "
    "stage. Write a table from depth to (block, [n1, n2, n3, n4]).",
    "Keep a running `in_channels` while you build the stages: after a stage it becomes "
    "width * block.expansion. Only the first block of a stage may change stride or channels.",
    "State-dict names come from attribute names: layer1 must be an nn.Sequential so its "
    "blocks are layer1.0, layer1.1, ...; the projection is downsample.0 (conv) and "
    "downsample.1 (BatchNorm); the ReLU and pools hold no parameters.",
]

DEPTHS = (18, 34, 50, 101, 152)
GRAD_HINT = "Check that nothing in forward is detached and every block adds its skip."
VALUE_HINT = (
    "Check the stem (conv1, bn1, ReLU, maxpool in that order), which block of each stage "
    "carries the stride (and, in a bottleneck, which convolution), and the final pooling."
)


def _decide_bad_depth(got: dict, want: dict) -> tuple[bool, str]:
    error = got.get("errors", {}).get("call") if isinstance(got.get("errors"), dict) else None
    if isinstance(error, str) and error.startswith("ValueError"):
        return True, "an unsupported depth raises ValueError"
    if isinstance(error, str):
        return False, f"an unsupported depth should raise ValueError; it raised {error[:200]}"
    return False, "an unsupported depth should raise ValueError; resnet(20) returned normally"


def build(*, seed: int, sample: bool) -> TestPlan:
    rng = np.random.default_rng(seed)
    probes, arrays, checks = [], {}, []
    depths = (18,) if sample else DEPTHS
    for depth in depths:
        pid = f"s{depth}"
        probes.append({"id": pid, "kind": "module", "factory": "resnet", "args": [depth],
                       "weights": None})  # fmt: skip
        checks += structure_checks(pid, f"resnet({depth})")
    for depth in (18,) if sample else (18, 50):
        pid = f"f{depth}"
        classes = 10 if sample else int(rng.integers(3, 40))
        probes.append({"id": pid, "kind": "module", "factory": "resnet", "args": [depth],
                       "kwargs": {"num_classes": classes},
                       "weights": {"seed": int(rng.integers(1 << 62))}, "mode": "eval"})  # fmt: skip
        # ResNet-50 runs in float32: its 25.6 M secret weights are drawn and held twice per
        # grading (in the sandbox and beside it), and in float64 that memory alone (200 MB
        # to fault in, on each side) was a third of the exercise's warm verdict. A wrong
        # stride, block or stem is off by far more than float32's rounding.
        float32 = depth == 50
        if float32:
            probes[-1]["dtype"] = "float32"
        arrays[f"{pid}/x"] = rng.standard_normal((2, 3, 32, 32))
        label = f"resnet({depth}, num_classes={classes if sample else 'hidden'}), 32x32 input"
        checks += [
            Check(f"output shape, {label}", "shape", pid, check_output_shape),
            Check(
                f"output values, {label}",
                "value",
                pid,
                output_values_check(VALUE_HINT, float32=float32),
            ),  # fmt: skip
        ]
        if depth == 18:
            # Only the input gradient: a whole network's parameter gradients would not fit
            # the output cap, and the blocks' own exercises check those.
            probes[-1]["param_grads"] = False
            arrays[f"{pid}/grad_out"] = rng.standard_normal((2, classes))
            checks.append(
                Check(f"input gradient, {label}", "gradient", pid, input_grad_check(GRAD_HINT))
            )
    probes.append({"id": "bad", "kind": "call", "fn": "resnet", "args": [20], "expect_error": True})
    checks.append(Check("resnet(20) raises ValueError", "value", "bad", _decide_bad_depth))
    return TestPlan(probes=probes, arrays=arrays, checks=checks)


EXERCISE = Exercise(
    slug="resnet-builder",
    title="ResNet builder",
    statement=STATEMENT,
    starter_code=STARTER,
    hints=HINTS,
    reference="grading.exercises.resnet_builder.reference",
    build=build,
    limits=BUILDER_LIMITS,
)
