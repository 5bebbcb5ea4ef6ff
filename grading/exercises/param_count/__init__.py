"""Exercise 5: parameter counts in closed form."""

from __future__ import annotations

import numpy as np

from grading.compare import Missing
from grading.exercises import Check, Exercise, TestPlan

STATEMENT = """\
Write three functions that return exact integer parameter counts:

- `count_params_basic(C)`: the convolution weights of a basic block at width C (two 3x3
  convolutions C -> C, no bias): 18 C^2.
- `count_params_bottleneck(C)`: the convolution weights of a bottleneck block C -> C/4 ->
  C/4 -> C (1x1, 3x3, 1x1, no bias); C is a multiple of 4. At equal width this is about 6%
  of the basic block.
- `count_params_resnet(depth, num_classes=1000)`: every parameter of the torchvision-style
  ResNet of that depth (18, 34, 50, 101 or 152): convolution weights, BatchNorm weights and
  biases (running statistics are buffers, not parameters), projection shortcuts, and the
  final fully connected layer with its bias. ResNet-50 with 1000 classes has 25,557,032.

Return Python integers. Tests call the functions with widths, depths and class counts you
do not see and compare with counts of real modules.
"""

STARTER = '''\
def count_params_basic(C: int) -> int:
    """Weights of the two 3x3 convolutions of a basic block of width C (no bias)."""
    raise NotImplementedError


def count_params_bottleneck(C: int) -> int:
    """Weights of the 1x1 -> 3x3 -> 1x1 convolutions of a C -> C/4 -> C/4 -> C bottleneck."""
    raise NotImplementedError


def count_params_resnet(depth: int, num_classes: int = 1000) -> int:
    """Every parameter of torchvision's resnet<depth> (BatchNorm affine terms and fc bias too)."""
    raise NotImplementedError
'''

HINTS = [
    "A k x k convolution from a to b channels without bias has k * k * a * b weights. "
    "A BatchNorm over c channels has 2c parameters (weight and bias).",
    "In a bottleneck at width C the inner width is C/4: 1x1 gives C * C/4, 3x3 gives "
    "9 * (C/4)^2, the last 1x1 gives C/4 * C. For the whole network, walk the stages: "
    "blocks per stage are 2-2-2-2 (18), 3-4-6-3 (34 and 50), 3-4-23-3 (101), 3-8-36-3 (152).",
    "The first block of stages 2-4 (and, for bottleneck nets, of stage 1, since 64 != 256) "
    "has a projection: a 1x1 conv plus a BatchNorm. Add the stem (7x7 conv 3->64 and its "
    "BatchNorm) and fc: final_channels * num_classes + num_classes.",
]


def _call(pid: str, fn: str, *args) -> dict:
    return {"id": pid, "kind": "call", "fn": fn, "args": list(args)}


def _decide_int(call: str):
    def decide(got: dict, want: dict) -> tuple[bool, str]:
        value, expected = got.get("value"), want["value"]
        if not isinstance(value, dict):
            raise Missing("value")
        if "int" not in value:
            kind = next(iter(value), "nothing")
            return False, f"{call} returned a {kind}, not an int"
        n = value["int"]
        if isinstance(n, bool) or not isinstance(n, int):
            raise Missing("int")
        if n == expected["int"]:
            return True, f"{call} = {n:,}"
        side = "too high" if n > expected["int"] else "too low"
        return False, f"{call} returned {n:,}, which is {side}"

    return decide


def build(*, seed: int, sample: bool) -> TestPlan:
    rng = np.random.default_rng(seed)
    # (function, arguments, whether the arguments are secret and stay out of the test name)
    calls: list[tuple[str, tuple, bool]] = []
    if sample:
        calls = [
            ("count_params_basic", (64,), False),
            ("count_params_bottleneck", (256,), False),
            ("count_params_resnet", (18,), False),
        ]
    else:
        secret_widths = [int(4 * rng.integers(5, 300)) for _ in range(2)]
        calls += [("count_params_basic", (c,), False) for c in (64, 512)]
        calls += [("count_params_basic", (c,), True) for c in secret_widths]
        calls += [("count_params_bottleneck", (c,), False) for c in (256, 2048)]
        calls += [("count_params_bottleneck", (c,), True) for c in secret_widths]
        calls += [("count_params_resnet", (d,), False) for d in (18, 34, 50, 101, 152)]
        calls += [("count_params_resnet", (d, int(rng.integers(2, 500))), True) for d in (18, 50)]
    probes, checks = [], []
    for i, (fn, args, secret) in enumerate(calls):
        pid = f"c{i}"
        probes.append(_call(pid, fn, *args))
        shown = f"{fn}(hidden case {i})" if secret else f"{fn}({', '.join(map(str, args))})"
        checks.append(Check(shown, "params", pid, _decide_int(shown)))
    return TestPlan(probes=probes, arrays={}, checks=checks)


EXERCISE = Exercise(
    slug="param-count",
    title="Counting parameters",
    statement=STATEMENT,
    starter_code=STARTER,
    hints=HINTS,
    reference="grading.exercises.param_count.reference",
    build=build,
)
