"""Exercise 1: the basic residual block (post-activation, ResNet v1)."""

from __future__ import annotations

from grading.exercises import Exercise, TestPlan
from grading.exercises._blocks import Config, SkipTest, block_plan

STATEMENT = """\
Implement `BasicBlock(nn.Module)` with `__init__(self, in_channels, out_channels, stride=1)`,
the two-convolution block of ResNet-18 and ResNet-34, with torchvision's attribute names:

- `conv1`: 3x3 convolution, `in_channels -> out_channels`, stride `stride`, padding 1, no bias;
  `bn1`: `BatchNorm2d(out_channels)`;
- `conv2`: 3x3 convolution, `out_channels -> out_channels`, stride 1, padding 1, no bias;
  `bn2`: `BatchNorm2d(out_channels)`;
- `downsample`: `None` when the input and output shapes agree, otherwise
  `nn.Sequential(Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
  BatchNorm2d(out_channels))`.

Forward: `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`, where the shortcut is the
identity or `downsample`. The last ReLU comes after the addition.

Tests: output shapes for several strides and channel changes; parameter counts in total
and per submodule; the state dict must load strictly with exactly these names and shapes;
with secret weights and inputs in float64 (eval mode), outputs, the input gradient and
every parameter gradient are compared with the reference's within 1e-8 + 1e-6 * |expected|;
the same once more at scale (a 2x32x32x32 input, training mode, so BatchNorm uses batch
statistics); autograd must agree with finite differences of your own forward; with the
residual branch zeroed (bn2 weight and bias 0) output and input gradient are compared with
the reference's, which are ReLU(x) and the gradient the skip path carries.
"""

STARTER = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers plus a shortcut; ReLU after the addition (ResNet v1).

    Attributes: conv1, bn1, conv2, bn2, downsample (None or Sequential(1x1 conv, BN)).
    """

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError
'''

HINTS = [
    "The shortcut must produce the same shape as the branch. When is that not automatic? "
    "Think about both the stride and the number of channels.",
    "Only conv1 carries the stride; conv2 always has stride 1. A projection shortcut is a "
    "1x1 convolution with the same stride followed by its own BatchNorm, and no bias anywhere "
    "(BatchNorm's shift makes a bias redundant).",
    "Keep the input in a variable before the branch runs: identity = x, or downsample(x). "
    "Then out = bn2(conv2(relu(bn1(conv1(x))))), and return relu(out + identity).",
]

SAMPLE = [
    Config("stride 1, 4->4, 4x4 input", (4, 4, 1), (2, 4, 4, 4)),
    Config("stride 2, 4->8, 6x6 input", (4, 8, 2), (2, 4, 6, 6)),
]
HIDDEN = [
    Config("stride 1, 8->8, 6x6 input", (8, 8, 1), (2, 8, 6, 6)),
    Config("stride 2, 8->16, 8x8 input", (8, 16, 2), (2, 8, 8, 8)),
    Config("stride 1, 6->12, 5x5 input", (6, 12, 1), (3, 6, 5, 5)),
    Config("stride 2, 12->12, 7x7 input", (12, 12, 2), (2, 12, 7, 7)),
    Config("BasicBlock(64, 64)", (64, 64, 1)),
    Config("BasicBlock(64, 128, stride=2)", (64, 128, 2)),
]

# The at-scale probe (hidden tests only), in training mode. Finite differences of the
# forward pass in place of the gradient would take two forward passes per input element
# and parameter: about 150,000 forward passes of 75 MFLOP each, 11 TFLOP in all, minutes of
# one CPU core against the 60 s limit. See _blocks.py for why this matters.
BIG = Config(
    "stride 1, 32->32, 32x32 input, batch statistics", (32, 32, 1), (2, 32, 32, 32), mode="train"
)


def build(*, seed: int, sample: bool) -> TestPlan:
    from grading.exercises.basic_block.reference import BasicBlock

    small = (
        Config("stride 1, 4->4, 3x3 input", (4, 4, 1), (1, 4, 3, 3))
        if sample
        else Config("stride 1, 6->6, 3x4 input", (6, 6, 1), (1, 6, 3, 4))
    )
    return block_plan(
        factory="BasicBlock",
        ref_cls=BasicBlock,
        seed=seed,
        configs=SAMPLE if sample else HIDDEN,
        gradcheck=None if sample else Config("stride 2, 3->6, 4x4 input", (3, 6, 2), (1, 3, 4, 4)),
        skip=SkipTest(small if sample else BIG, ("bn2.weight", "bn2.bias"), "relu"),
        big=None if sample else BIG,
    )


EXERCISE = Exercise(
    slug="basic-block",
    title="Basic residual block",
    statement=STATEMENT,
    starter_code=STARTER,
    hints=HINTS,
    reference="grading.exercises.basic_block.reference",
    build=build,
)
