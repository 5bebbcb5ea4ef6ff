"""The probes: what the harness measures of the candidate's code, as raw data.

Part of the harness (harness.py loads it before the candidate's code is imported, inside
the sandbox and in the worker alike, where it measures the reference solutions); only
the standard library, numpy and torch are used. A probe never judges: every statistic
and comparison is made by the worker (grading.verdict).
"""

from __future__ import annotations

import importlib.util
import math
import os
import traceback
from types import ModuleType

import numpy as np
import torch
import torch.nn as nn

# Taken before the candidate's code is imported, so that a replaced attribute on torch
# does not change how the harness itself measures.
_autograd_grad = torch.autograd.grad
_no_grad = torch.no_grad
_from_numpy = torch.from_numpy


def _sibling(filename: str) -> ModuleType:
    """A file next to this one, loaded by its path: in the sandbox `python -I` puts no
    folder of the job on sys.path, and nothing the candidate wrote can stand in for it."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), filename)
    spec = importlib.util.spec_from_file_location("harness_" + filename[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fixtures = _sibling("fixtures.py")
SENTINEL = fixtures.SENTINEL
SmallResNet = fixtures.SmallResNet
seeded_state = fixtures.seeded_state


# ---------------------------------------------------------------------------- helpers


# Set when the candidate's code ran the GPU out of memory anywhere; the worker then
# reports the run as stopped by the memory limit, as the host's OOM killer would be.
_CUDA_OOM = [False]


def _error(exc: BaseException) -> str:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        _CUDA_OOM[0] = True
    text = f"{type(exc).__name__}: {exc}"[:450]
    # Where in the candidate's file it happened, so the page can mark the line.
    lines = [
        f.lineno
        for f in traceback.extract_tb(exc.__traceback__)
        if f.filename.endswith("solution.py")
    ]
    if lines:
        text += f" (at line {lines[-1]} of solution.py)"
    return text[:500]


def _host(t: torch.Tensor) -> np.ndarray:
    """A tensor's values on the host, in float64, whatever device and dtype it has."""
    return t.detach().cpu().to(torch.float64).numpy().copy()


def _numel(t) -> int:
    return int(t.numel())


def _structure(module: nn.Module) -> dict:
    """Names and shapes only: the worker counts parameters itself from these."""
    return {
        "param_shapes": {n: [int(s) for s in p.shape] for n, p in module.named_parameters()},
        "state_shapes": {k: [int(s) for s in v.shape] for k, v in module.state_dict().items()},
    }


def _to_float64_tree(value):
    """A candidate's return value as JSON-able data with numpy arrays."""
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, (int, np.integer)):
        return {"int": int(value)}
    if isinstance(value, (float, np.floating)):
        return {"float": float(value)}
    if isinstance(value, torch.Tensor):
        return {"array": value.detach().cpu().to(torch.float64).numpy().copy()}
    if isinstance(value, np.ndarray):
        return {"array": np.asarray(value, dtype=np.float64).copy()}
    if isinstance(value, (tuple, list)):
        return {"seq": [_to_float64_tree(v) for v in value][:16]}
    return {"type": type(value).__name__[:60]}


def _jacobian(fn, x: torch.Tensor) -> np.ndarray:
    x = x.detach().clone().requires_grad_(True)
    y = fn(x.clone()).reshape(-1)
    rows = []
    for i in range(y.numel()):
        (g,) = _autograd_grad(y[i], x, retain_graph=True, allow_unused=True)
        rows.append(torch.zeros_like(x) if g is None else g)
    return torch.stack([r.reshape(-1) for r in rows]).detach().numpy().copy()


def _fd_jacobian(fn, x: torch.Tensor, eps: float) -> np.ndarray:
    """Central differences of the forward pass: what torch.autograd.gradcheck compares to."""
    x = x.detach().clone()
    flat = x.reshape(-1)
    columns = []
    with _no_grad():
        for j in range(flat.numel()):
            orig = float(flat[j])
            flat[j] = orig + eps
            plus = fn(x).reshape(-1).clone()
            flat[j] = orig - eps
            minus = fn(x).reshape(-1).clone()
            flat[j] = orig
            columns.append((plus - minus) / (2 * eps))
    return torch.stack(columns, dim=1).numpy().copy()


# ---------------------------------------------------------------------------- probes


def _build(factory, spec: dict, meta: bool = True):
    """The module, built on the meta device first: no weights are initialised there.

    Names and shapes need no weights, and a probe that runs the module loads every weight
    itself, so the default initialisation that torch would draw on the CPU is wasted work
    (a ResNet-50's 25 M parameters: a third of a second). Code that cannot be built on
    meta (it reads a value while building) is built on the CPU, so no solution fails for it.
    """
    args, kwargs = spec.get("args", []), spec.get("kwargs", {})
    if meta:
        try:
            with torch.device("meta"):
                return factory(*args, **kwargs)
        except Exception:
            pass
    return factory(*args, **kwargs)


def _on_meta(module: nn.Module) -> bool:
    return any(t.is_meta for t in module.parameters()) or any(t.is_meta for t in module.buffers())


def _device_and_dtype(spec: dict):
    """Where a probe runs: the CPU in float64 unless a device test says otherwise."""
    dtype = torch.float32 if spec.get("dtype") == "float32" else torch.float64
    return torch.device(spec.get("device", "cpu")), dtype


def probe_module(spec: dict, arrays: dict, solution) -> dict:
    """Build a module, report its structure, load weights strictly, run forward/backward.

    A device test runs the same probe on another device or dtype (spec "device" and
    "dtype") with the arrays of the probe it repeats (spec "arrays"); the default dtype
    is the probe's, as in a program written for it.
    """
    device, dtype = _device_and_dtype(spec)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        return _probe_module(spec, arrays, solution, device, dtype)
    finally:
        torch.set_default_dtype(previous)


def _probe_module(spec: dict, arrays: dict, solution, device, dtype) -> dict:
    out: dict = {"errors": {}}
    factory = getattr(solution, spec["factory"], None)
    try:
        if factory is None:
            raise AttributeError(f"solution has no {spec['factory']}")
        module = _checked(_build(factory, spec), spec)
    except BaseException as exc:
        out["errors"]["build"] = _error(exc)
        return out
    try:
        out.update(_structure(module))
    except BaseException as exc:
        out["errors"]["structure"] = _error(exc)
    if spec.get("weights") is None:
        return out
    if _on_meta(module):
        # The weights are loaded by assignment onto the meta-built module. Anything the
        # loaded state does not cover (a non-persistent buffer, a tensor kept as a plain
        # attribute, a value read while building) is still on meta: then, and whenever
        # this path fails at all, the module is built again on the CPU and measured the
        # plain way, so a solution is judged on what the plain path gives.
        oom = _CUDA_OOM[0]
        fast = _run_weighted(spec, arrays, module, device, dtype, assign=True)
        if not fast["errors"]:
            out.update(fast)
            return out
        _CUDA_OOM[0] = oom  # the plain path decides what is reported
        try:
            module = _checked(_build(factory, spec, meta=False), spec)
        except BaseException as exc:
            out["errors"]["build"] = _error(exc)
            return out
    run = _run_weighted(spec, arrays, module, device, dtype, assign=False)
    out["errors"].update(run.pop("errors"))
    out.update(run)
    return out


def _checked(module, spec: dict) -> nn.Module:
    if not isinstance(module, nn.Module):
        raise TypeError(f"{spec['factory']} returned {type(module).__name__}, not nn.Module")
    return module


def _state(spec: dict, arrays: dict, own: dict) -> dict[str, np.ndarray]:
    """The weights a probe loads, as arrays of its own (the module may change them in
    place): copies of those given, or drawn from a seed for each entry (fresh already,
    a ResNet's 37 M values: not copied again)."""
    weights = spec["weights"]
    if weights == "arrays":
        prefix = spec.get("arrays", spec["id"]) + "/sd/"
        return {k[len(prefix) :]: np.array(v) for k, v in arrays.items() if k.startswith(prefix)}
    shapes = {k: list(v.shape) for k, v in own.items()}
    dtype = np.float32 if spec.get("dtype") == "float32" else np.float64
    state = seeded_state(int(weights["seed"]), shapes, dtype)
    for name in weights.get("zero", []):
        if name in state:
            state[name] = np.zeros_like(state[name])
    return state


def _run_weighted(spec: dict, arrays: dict, module: nn.Module, device, dtype, assign: bool):
    """Load the weights strictly, run forward and backward; the raw outputs and errors."""
    out: dict = {"errors": {}}
    source = spec.get("arrays", spec["id"])
    try:
        own = module.state_dict()  # the module's own entries: names, shapes, dtypes
        state = _state(spec, arrays, own)
        if assign:
            tensors = {}
            for k, v in state.items():
                t = _from_numpy(np.asarray(v))
                mine = own.get(k)
                if mine is not None:
                    t = t.to(device=device, dtype=dtype if mine.is_floating_point() else mine.dtype)
                tensors[k] = t
            module.load_state_dict(tensors, strict=True, assign=True)
            module = module.to(device=device, dtype=dtype)
            if _on_meta(module):
                raise RuntimeError("parts of the module are not in its state dict")
        else:
            module = module.to(device=device, dtype=dtype)
            tensors = {k: _from_numpy(np.asarray(v)) for k, v in state.items()}
            module.load_state_dict(tensors, strict=True)
        module.train(spec.get("mode", "eval") == "train")
    except BaseException as exc:
        out["errors"]["load"] = _error(exc)
        return out
    try:
        x = _from_numpy(np.array(arrays[source + "/x"])).to(device=device, dtype=dtype)
        xg = x.clone().requires_grad_(True)
        # A clone goes in, so an in-place op on the input does not hit the leaf itself.
        y = module(xg.clone())
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"forward returned {type(y).__name__}, not a tensor")
        out["device"] = str(y.device)
        out["y"] = y.detach().cpu().to(torch.float64).numpy().copy()
        grad_key = source + "/grad_out"
        if grad_key in arrays:
            g = _from_numpy(np.array(arrays[grad_key])).to(device=device, dtype=dtype)
            if tuple(g.shape) == tuple(y.shape):
                params = dict(module.named_parameters())
                names = [n for n, p in params.items() if p.requires_grad]
                if not spec.get("param_grads", True):
                    names = []  # a full network's gradients would not fit the output cap
                # The gradient of sum(y * g): J^T g, what grad(y, ..., g) gives, bit for bit
                # (the chain rule multiplies g by the scalar's seed, 1). Given g as a tensor,
                # torch would import its symbolic-shapes machinery (sympy, some 490 modules:
                # 0.3-0.7 s of CPU in every sandbox, whose waiter would have to preload it).
                weighted = (y * g).sum()
                wrt = [xg] + [params[n] for n in names]
                grads = _autograd_grad(weighted, wrt, allow_unused=True)
                out["dx"] = np.zeros(tuple(x.shape)) if grads[0] is None else _host(grads[0])
                out["dparams"] = {
                    n: (np.zeros(tuple(params[n].shape)) if gr is None else _host(gr))
                    for n, gr in zip(names, grads[1:], strict=True)
                }
    except BaseException as exc:
        out["errors"]["forward"] = _error(exc)
        return out
    if spec.get("f32"):
        for key in ("y", "dx"):
            if key in out:
                out[key] = out[key].astype(np.float32)
        if "dparams" in out:
            out["dparams"] = {n: v.astype(np.float32) for n, v in out["dparams"].items()}
    try:
        if spec.get("jacobian"):
            out["jac"] = _jacobian(module, x)
        if spec.get("fd"):
            out["fd_jac"] = _fd_jacobian(module, x, float(spec.get("eps", 1e-6)))
    except BaseException as exc:
        out["errors"]["jacobian"] = _error(exc)
    return out


def _arg(value, arrays: dict):
    if isinstance(value, dict) and "array" in value:
        return np.array(arrays[value["array"]])
    return value


def probe_call(spec: dict, arrays: dict, solution) -> dict:
    """Call a function of the solution and report what it returned."""
    try:
        fn = getattr(solution, spec["fn"])
        args = [_arg(a, arrays) for a in spec.get("args", [])]
        kwargs = {k: _arg(v, arrays) for k, v in spec.get("kwargs", {}).items()}
        return {"errors": {}, "value": _to_float64_tree(fn(*args, **kwargs))}
    except BaseException as exc:
        return {"errors": {"call": _error(exc)}}


def probe_init(spec: dict, arrays: dict, solution) -> dict:
    """Call kaiming_normal_ on a view into a sentinel-filled buffer; send the whole buffer.

    Raw data only: the worker computes every statistic. The tensor handed over is a view
    with sentinel padding on both sides (lengths from the plan), so "filled in place" is
    read off the buffer itself: the view's values changed, the padding did not.
    """
    out: dict = {"errors": {}, "cases": []}
    device, _ = _device_and_dtype(spec)
    fn = getattr(solution, spec["fn"], None)
    if fn is None:
        out["errors"]["call"] = f"AttributeError: solution has no {spec['fn']}"
        return out
    for case in spec["cases"]:
        shape = tuple(int(s) for s in case["shape"])
        n = math.prod(shape)
        before, after = int(case.get("pad", [0, 0])[0]), int(case.get("pad", [0, 0])[1])
        buffer = torch.full((before + n + after,), SENTINEL, dtype=torch.float32, device=device)
        t = buffer[before : before + n].view(shape)
        torch.manual_seed(int(case["seed"]))
        try:
            kwargs = {"mode": case["mode"]} if case.get("mode") else {}
            ret = fn(t, **kwargs)
            error = ""
        except BaseException as exc:
            ret, error = None, _error(exc)
        try:
            values = buffer.detach().cpu().numpy().copy()
        except BaseException as exc:  # a device it cannot be read back from
            values, error = None, error or _error(exc)
        out["cases"].append({"error": error, "returned_given": ret is t, "buffer": values})
    return out


def probe_init_model(spec: dict, arrays: dict, solution) -> dict:
    """Call init_resnet on a sentinel-filled small ResNet; send every parameter's values."""
    out: dict = {"errors": {}}
    device, _ = _device_and_dtype(spec)
    model = SmallResNet().to(device)
    with _no_grad():
        for p in model.parameters():
            p.fill_(SENTINEL)
    torch.manual_seed(int(spec["seed"]))
    try:
        getattr(solution, spec["fn"])(model, zero_init_residual=bool(spec["flag"]))
    except BaseException as exc:
        out["errors"]["call"] = _error(exc)
        return out
    out["params"] = {
        name: p.detach().cpu().to(torch.float32).numpy().copy()
        for name, p in model.named_parameters()
    }
    return out


PROBES = {
    "module": probe_module,
    "call": probe_call,
    "init": probe_init,
    "init_model": probe_init_model,
}


def measure(probes: list[dict], arrays: dict, solution) -> dict:
    """Run every probe; one probe's failure never stops the others."""
    results = {}
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        for spec in probes:
            try:
                results[spec["id"]] = PROBES[spec["kind"]](spec, arrays, solution)
            except BaseException as exc:
                results[spec["id"]] = {"errors": {"probe": _error(exc)}}
    finally:
        torch.set_default_dtype(previous)
    return results
