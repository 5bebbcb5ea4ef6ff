"""Exercise 8: the backward pass of a residual unit by hand, in NumPy.

Why a patched harness cannot make a wrong answer pass: the checks compare the returned
arrays with the reference's gradients on secret inputs, computed here, so the only
shortcuts are autograd (torch is importable in the sandbox, since the harness uses it) and
finite differences of the forward pass, which the statement gives. Autograd is ruled out
on the source, in the worker (grading/static.py: NumPy only, no computed imports). Finite
differences are ruled out by size for the weights: the hidden tests include n=256, d=128,
h=256, where every row of x contributes to dW1 and dW2, so differencing them needs two
full forward passes per weight (65,536 weights), minutes against the time limit
(benchmarks/fd_forgery.py), while the analytic backward takes milliseconds. The rows of
y depend only on the same rows of x, so dx alone could be differenced a column at a time;
a solution that does that and nothing more still fails dW1 and dW2 at scale.
"""

from __future__ import annotations

import numpy as np

from grading.compare import Unusable, close
from grading.exercises import SOURCE, Check, Exercise, TestPlan
from grading.static import Rules, violations

STATEMENT = """\
For the residual unit `y = x + relu(x @ W1.T) @ W2.T`, with `x` of shape (n, d), `W1` of
shape (h, d) and `W2` of shape (d, h), write `residual_backward(x, W1, W2, grad_out)` in
NumPy. `grad_out` is dL/dy, shape (n, d). Return the tuple `(dx, dW1, dW2)`: the gradients
of L with respect to x, W1 and W2, each with the shape of its variable.

Use NumPy only: no torch, no autograd (your source is checked for imports other than
numpy and math). The derivative of relu at a positive pre-activation is 1 and
at a negative one 0. Tests use secret float64 inputs and compare with the reference within
1e-10 + 1e-8 * |expected|; one test zeroes W2, where dx must be exactly grad_out (the skip
path carries the gradient unchanged).
"""

STARTER = '''\
import numpy as np


def residual_backward(x: np.ndarray, W1: np.ndarray, W2: np.ndarray, grad_out: np.ndarray):
    """Gradients of y = x + relu(x @ W1.T) @ W2.T given grad_out = dL/dy.

    Returns (dx, dW1, dW2) with the shapes of x, W1 and W2.
    """
    raise NotImplementedError
'''

HINTS = [
    "Write the forward pass in named steps (a = x @ W1.T, h = relu(a), y = x + h @ W2.T) "
    "and go backwards through them. Each gradient has the shape of what it differentiates.",
    "For y = h @ W2.T: dW2 = grad_out.T @ h and dh = grad_out @ W2. ReLU passes dh where "
    "a > 0 and blocks it elsewhere.",
    "da = dh * (a > 0); dW1 = da.T @ x; and x appears twice in y, so dx = grad_out (the skip) "
    "+ da @ W1 (the branch).",
]

TOL = {"rtol": 1e-8, "atol": 1e-10}
SAMPLE = [(2, 3, 4)]
HIDDEN = [(5, 4, 6), (8, 6, 3), (3, 7, 7), (16, 10, 12), (256, 128, 256)]
NUMPY_ONLY = Rules(modules_allowed=frozenset({"numpy", "math", "__future__", "typing"}))


def _decide_numpy_only(got: dict, want: dict) -> tuple[bool, str]:
    found = violations(got["source"], NUMPY_ONLY)
    if not found:
        return True, "NumPy only"
    return False, "; ".join(found[:5])


NOT_A_TRIPLE = "residual_backward must return a tuple of three arrays (dx, dW1, dW2)"


def _triple(got: dict) -> list[np.ndarray]:
    value = got.get("value")
    if not isinstance(value, dict) or not isinstance(value.get("seq"), list):
        raise Unusable(NOT_A_TRIPLE)
    items = value["seq"]
    if len(items) != 3:
        raise Unusable(NOT_A_TRIPLE)
    arrays = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("array"), np.ndarray):
            raise Unusable(NOT_A_TRIPLE)
        if not np.all(np.isfinite(item["array"])):
            raise Unusable("the returned arrays contain NaN or infinity")
        arrays.append(item["array"])
    return arrays


def _decide_shapes(got: dict, want: dict) -> tuple[bool, str]:
    shapes = [a.shape for a in _triple(got)]
    expected = [a.shape for a in _triple(want)]
    if shapes == expected:
        return True, "dx, dW1 and dW2 have the shapes of x, W1 and W2"
    return False, f"shapes {shapes}, expected the shapes of x, W1, W2: {expected}"


def _decide_grad(index: int, what: str, hint: str):
    def decide(got: dict, want: dict) -> tuple[bool, str]:
        got_array, want_array = _triple(got)[index], _triple(want)[index]
        if got_array.shape != want_array.shape:
            raise Unusable(f"{what} has shape {got_array.shape}, expected {want_array.shape}")
        ok, detail = close(got_array, want_array, **TOL)
        if ok:
            return True, f"{what} matches ({detail})"
        return False, f"{what} is wrong: {detail}. {hint}"

    return decide


def build(*, seed: int, sample: bool) -> TestPlan:
    rng = np.random.default_rng(seed)
    probes, arrays, checks = [], {}, []
    cases = SAMPLE if sample else HIDDEN
    for i, (n, d, h) in enumerate(cases + [cases[0]]):
        pid = f"r{i}"
        skip = i == len(cases)
        names = {"x": (n, d), "W1": (h, d), "W2": (d, h), "grad_out": (n, d)}
        for name, shape in names.items():
            arrays[f"{pid}/{name}"] = rng.standard_normal(shape)
        if skip:
            arrays[f"{pid}/W2"] = np.zeros((d, h))
        probes.append({"id": pid, "kind": "call", "fn": "residual_backward",
                       "args": [{"array": f"{pid}/{k}"} for k in names]})  # fmt: skip
        label = f"n={n}, d={d}, h={h}"
        if skip:
            grad_out = arrays[f"{pid}/grad_out"]

            def decide_skip(got: dict, want: dict, grad_out=grad_out) -> tuple[bool, str]:
                ok, detail = close(_triple(got)[0], grad_out, rtol=0.0, atol=1e-12)
                if ok:
                    return True, "with W2 = 0, dx equals grad_out: the skip path alone"
                return (
                    False,
                    f"with W2 = 0 the branch contributes nothing, so dx must equal grad_out ({detail})",
                )

            checks.append(
                Check(
                    f"skip path: W2 = 0 gives dx = grad_out, {label}", "gradient", pid, decide_skip
                )
            )
            continue
        checks += [
            Check(f"returned shapes, {label}", "shape", pid, _decide_shapes),
            Check(f"dx, {label}", "gradient", pid,
                  _decide_grad(0, "dx", "x reaches y twice: through the skip and through the branch.")),
            Check(f"dW1, {label}", "gradient", pid,
                  _decide_grad(1, "dW1", "Mask by the pre-activation sign before multiplying by x.")),
            Check(f"dW2, {label}", "gradient", pid,
                  _decide_grad(2, "dW2", "dW2 pairs grad_out with the post-ReLU hidden values.")),
        ]  # fmt: skip
    checks.append(Check("NumPy only: no torch or autograd in the source", "gradient", SOURCE,
                        _decide_numpy_only))  # fmt: skip
    return TestPlan(probes=probes, arrays=arrays, checks=checks)


EXERCISE = Exercise(
    slug="residual-backward",
    title="Residual backward pass by hand",
    statement=STATEMENT,
    starter_code=STARTER,
    hints=HINTS,
    reference="grading.exercises.residual_backward.reference",
    build=build,
)
