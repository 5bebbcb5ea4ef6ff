"""Exercise 2: the bottleneck block of ResNet-50/101/152 (stride on the 3x3)."""

from __future__ import annotations

from grading.exercises import Exercise, TestPlan
from grading.exercises._blocks import Config, SkipTest, block_plan

STATEMENT = """\
Implement `Bottleneck(nn.Module)` with `expansion = 4` and
`__init__(self, in_channels, mid_channels, stride=1)`; the block outputs
`4 * mid_channels` channels. Torchvision's names and layout:

- `conv1`: 1x1, `in_channels -> mid_channels`, no bias; `bn1`;
- `conv2`: 3x3, `mid_channels -> mid_channels`, stride `stride`, padding 1, no bias; `bn2`;
- `conv3`: 1x1, `mid_channels -> 4 * mid_channels`, no bias; `bn3`;
- `downsample`: `None` when the shapes agree, otherwise `nn.Sequential(Conv2d(in_channels,
  4 * mid_channels, 1, stride=stride, bias=False), BatchNorm2d(4 * mid_channels))`.

Forward: ReLU after bn1 and bn2, then `relu(bn3(conv3(...)) + shortcut(x))`. The stride sits
on the 3x3 convolution (torchvision's "v1.5"), not on the first 1x1.

Tests: output shapes, parameter counts (total and per submodule, including the full-size
blocks of ResNet-50), strict state-dict loading, outputs and gradients against the
reference in float64 (1e-8 + 1e-6 * |expected|: the output, the input gradient and every
parameter gradient), the same at scale (a 2x128x24x24 input, training mode, BatchNorm on
batch statistics), autograd against finite differences of your own forward, and the skip
path: with bn3's weight and bias zeroed, output and input gradient are compared with the
reference's (ReLU(x), and the gradient the skip carries).
"""

STARTER = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (with the stride), 1x1 expand by `expansion`; ReLU after the addition.

    Attributes: conv1, bn1, conv2, bn2, conv3, bn3, downsample (None or Sequential(conv, BN)).
    """

    expansion = 4

    def __init__(self, in_channels: int, mid_channels: int, stride: int = 1) -> None:
        super().__init__()
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError
'''

HINTS = [
    "The block's output has expansion * mid_channels channels. Compare that with "
    "in_channels and the stride to decide whether the shortcut needs a projection.",
    "Three convolutions: 1x1 to mid_channels, 3x3 at mid_channels with the stride, 1x1 up to "
    "4 * mid_channels. None has a bias; each is followed by its own BatchNorm.",
    "identity = x (or downsample(x)); out = relu(bn1(conv1(x))); out = relu(bn2(conv2(out))); "
    "out = bn3(conv3(out)); return relu(out + identity). No ReLU between bn3 and the addition.",
]

SAMPLE = [
    Config("identity, 16->4->16, 4x4 input", (16, 4, 1), (2, 16, 4, 4)),
    Config("projection, stride 2, 8->4->16, 6x6 input", (8, 4, 2), (2, 8, 6, 6)),
]
HIDDEN = [
    Config("identity, 32->8->32, 5x5 input", (32, 8, 1), (2, 32, 5, 5)),
    Config("projection, stride 1, 8->4->16, 6x6 input", (8, 4, 1), (2, 8, 6, 6)),
    Config("projection, stride 2, 16->8->32, 7x7 input", (16, 8, 2), (2, 16, 7, 7)),
    Config("stride 2 without channel change, 16->4->16, 8x8 input", (16, 4, 2), (3, 16, 8, 8)),
    Config("Bottleneck(256, 64)", (256, 64, 1)),
    Config("Bottleneck(64, 64) with projection", (64, 64, 1)),
    Config("Bottleneck(256, 128, stride=2)", (256, 128, 2)),
]

# The at-scale probe (hidden tests only), in training mode. Finite differences of the
# forward pass in place of the gradient would take two forward passes per input element
# and parameter: about 300,000 forward passes of 40 MFLOP each, 12 TFLOP in all, minutes of
# one CPU core against the 60 s limit. See _blocks.py for why this matters.
BIG = Config(
    "identity, 128->32->128, 24x24 input, batch statistics",
    (128, 32, 1),
    (2, 128, 24, 24),
    mode="train",
)


def build(*, seed: int, sample: bool) -> TestPlan:
    from grading.exercises.bottleneck_block.reference import Bottleneck

    small = (
        Config("identity, 8->2->8, 3x3 input", (8, 2, 1), (1, 8, 3, 3))
        if sample
        else Config("identity, 12->3->12, 3x4 input", (12, 3, 1), (1, 12, 3, 4))
    )
    return block_plan(
        factory="Bottleneck",
        ref_cls=Bottleneck,
        seed=seed,
        configs=SAMPLE if sample else HIDDEN,
        gradcheck=None
        if sample
        else Config("stride 2, 4->2->8, 4x4 input", (4, 2, 2), (1, 4, 4, 4)),
        skip=SkipTest(small if sample else BIG, ("bn3.weight", "bn3.bias"), "relu"),
        big=None if sample else BIG,
    )


EXERCISE = Exercise(
    slug="bottleneck-block",
    title="Bottleneck block",
    statement=STATEMENT,
    starter_code=STARTER,
    hints=HINTS,
    reference="grading.exercises.bottleneck_block.reference",
    build=build,
)
