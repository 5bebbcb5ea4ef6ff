"""Exercise 7: the squeeze-and-excitation block."""

from __future__ import annotations

from grading.exercises import Exercise, TestPlan
from grading.exercises._blocks import Config, block_plan

STATEMENT = """\
Implement `SEBlock(nn.Module)` with `__init__(self, channels, reduction=16)`:

- `fc1 = nn.Linear(channels, channels // reduction)` and
  `fc2 = nn.Linear(channels // reduction, channels)`, both with bias;
- forward on `x` of shape (N, C, H, W): squeeze `s = mean of x over H and W` (shape (N, C)),
  excite `g = sigmoid(fc2(relu(fc1(s))))`, and return `x * g` with `g` broadcast over H and W.

The block rescales channels; it does not add a skip of its own (in SE-ResNet it sits on
the residual branch, before the addition).

Tests: output shapes, parameter counts (SEBlock(256) has 2 * 256^2 / 16 = 8,192 weights and
8,464 parameters with biases), strict state-dict loading, outputs and gradients against the
reference in float64 (1e-8 + 1e-6 * |expected|: the output, the input gradient and every
parameter gradient), the same at scale (one 128x48x48 sample), and autograd against finite
differences of your own forward.
"""

STARTER = '''\
import torch
import torch.nn as nn


class SEBlock(nn.Module):
    """Squeeze (global average pool), excite (two Linear layers), rescale the channels.

    Attributes: fc1 = Linear(C, C // reduction), fc2 = Linear(C // reduction, C).
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError
'''

HINTS = [
    "The gate is one number per channel per example, between 0 and 1. Where does the "
    "per-channel summary of x come from, and which shape must the gate have to multiply x?",
    "Squeeze with the mean over the two spatial dimensions (dims 2 and 3), giving (N, C). "
    "fc1 reduces to C // reduction with a ReLU, fc2 restores C, and a sigmoid makes the gate.",
    "g = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean(dim=(2, 3)))))); "
    "return x * g[:, :, None, None] (or g.view(N, C, 1, 1)).",
]

SAMPLE = [
    Config("16 channels, reduction 4, 4x4 input", (16, 4), (2, 16, 4, 4)),
]
HIDDEN = [
    Config("32 channels, reduction 4, 5x5 input", (32, 4), (2, 32, 5, 5)),
    Config("32 channels, default reduction, 4x4 input", (32,), (3, 32, 4, 4)),
    Config("24 channels, reduction 8, 3x6 input", (24, 8), (2, 24, 3, 6)),
    Config("SEBlock(256, 16)", (256, 16)),
]


# The at-scale probe (hidden tests only). The gate couples every input of a sample to
# every output of that sample (samples are independent, hence one large sample), so finite
# differences in place of the gradient need two forward passes of the whole sample per
# input element and parameter: about 590,000 passes, minutes of one core against the 60 s
# limit (printed by benchmarks/fd_forgery.py). See _blocks.py.
BIG = Config("128 channels, reduction 16, one 48x48 sample", (128, 16), (1, 128, 48, 48))


def build(*, seed: int, sample: bool) -> TestPlan:
    from grading.exercises.se_block.reference import SEBlock

    return block_plan(
        factory="SEBlock",
        ref_cls=SEBlock,
        seed=seed,
        configs=SAMPLE if sample else HIDDEN,
        gradcheck=None
        if sample
        else Config("8 channels, reduction 2, 2x3 input", (8, 2), (1, 8, 2, 3)),
        skip=None,
        big=None if sample else BIG,
        value_hint="Check the squeeze (a mean over H and W), the ReLU between the two layers, "
        "the sigmoid, and that the gate multiplies x with nothing added.",
        grad_hint="Check that the gate is not detached: gradients flow through x and the gate.",
    )


EXERCISE = Exercise(
    slug="se-block",
    title="Squeeze-and-excitation block",
    statement=STATEMENT,
    starter_code=STARTER,
    hints=HINTS,
    reference="grading.exercises.se_block.reference",
    build=build,
)
