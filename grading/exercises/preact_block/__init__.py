"""Exercise 3: the pre-activation residual block (ResNet v2)."""

from __future__ import annotations

from grading.exercises import Exercise, TestPlan
from grading.exercises._blocks import Config, SkipTest, block_plan

STATEMENT = """\
Implement `PreActBlock(nn.Module)` with `__init__(self, in_channels, out_channels, stride=1)`,
the block of "Identity Mappings in Deep Residual Networks" (ResNet v2):

- `bn1`: `BatchNorm2d(in_channels)`; `conv1`: 3x3, `in_channels -> out_channels`, stride
  `stride`, padding 1, no bias;
- `bn2`: `BatchNorm2d(out_channels)`; `conv2`: 3x3, `out_channels -> out_channels`, stride 1,
  padding 1, no bias;
- `shortcut`: `None` when the shapes agree, otherwise an `nn.Conv2d(in_channels,
  out_channels, 1, stride=stride, bias=False)` (a plain convolution, no BatchNorm) applied to
  `relu(bn1(x))`.

Forward: `out = relu(bn1(x))`; the branch is `conv2(relu(bn2(conv1(out))))`; return
`branch + shortcut`, where the shortcut is `x` itself or `shortcut(out)`. Nothing comes
after the addition: the skip path is a pure identity.

Tests: output shapes, parameter counts, strict state-dict loading, outputs and gradients
against the reference in float64 (1e-8 + 1e-6 * |expected|: the output, the input gradient
and every parameter gradient), the same at scale (a 2x32x32x32 input, training mode,
BatchNorm on batch statistics), autograd against finite differences of your own forward,
and the skip path: with conv2 zeroed, output and input gradient are compared with the
reference's (x itself, and the upstream gradient passed through unchanged).
"""

STARTER = '''\
import torch
import torch.nn as nn
import torch.nn.functional as F


class PreActBlock(nn.Module):
    """BN-ReLU-conv twice, then add the shortcut; nothing after the addition (ResNet v2).

    Attributes: bn1, conv1, bn2, conv2, shortcut (None or a 1x1 Conv2d without bias).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError
'''

HINTS = [
    "In v2 the activation moves in front of each convolution: BatchNorm and ReLU first, "
    "then the convolution. What does that leave after the addition?",
    "bn1 normalises the block's input, so it has in_channels features. The projection "
    "shortcut is a 1x1 convolution with the stride, and it takes relu(bn1(x)), not x.",
    "out = relu(bn1(x)); identity = x if shortcut is None else shortcut(out); "
    "out = conv1(out); out = conv2(relu(bn2(out))); return out + identity.",
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
    Config("PreActBlock(64, 128, stride=2)", (64, 128, 2)),
]

# The at-scale probe (hidden tests only), in training mode. Finite differences of the
# forward pass in place of the gradient would take two forward passes per input element
# and parameter: about 150,000 forward passes of 75 MFLOP each, 11 TFLOP in all, minutes of
# one CPU core against the 60 s limit. See _blocks.py for why this matters.
BIG = Config(
    "stride 1, 32->32, 32x32 input, batch statistics", (32, 32, 1), (2, 32, 32, 32), mode="train"
)


def build(*, seed: int, sample: bool) -> TestPlan:
    from grading.exercises.preact_block.reference import PreActBlock

    small = (
        Config("stride 1, 4->4, 3x3 input", (4, 4, 1), (1, 4, 3, 3))
        if sample
        else Config("stride 1, 6->6, 3x4 input", (6, 6, 1), (1, 6, 3, 4))
    )
    return block_plan(
        factory="PreActBlock",
        ref_cls=PreActBlock,
        seed=seed,
        configs=SAMPLE if sample else HIDDEN,
        gradcheck=None if sample else Config("stride 2, 3->6, 4x4 input", (3, 6, 2), (1, 3, 4, 4)),
        skip=SkipTest(small if sample else BIG, ("conv2.weight",), "identity"),
        big=None if sample else BIG,
    )


EXERCISE = Exercise(
    slug="preact-block",
    title="Pre-activation block",
    statement=STATEMENT,
    starter_code=STARTER,
    hints=HINTS,
    reference="grading.exercises.preact_block.reference",
    build=build,
)
