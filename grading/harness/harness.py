"""The grading harness: runs inside the sandbox, next to the candidate's solution.py.

It measures and reports; it never judges. It reads plan.json (the probes and a per-run
nonce) and inputs.npz (secret inputs and weights, loaded with allow_pickle=False), deletes
them and itself from disk, hides the real stdout on a private descriptor, imports the
candidate's code, runs every probe, and writes exactly one framed result:

    <nonce>:<base64 of the JSON measurements>:<nonce>

Expected values are computed outside with the reference solution, so a forged frame would
have to contain the right answers. Only the standard library, numpy and torch are used.
The engine also imports this file to measure the reference with the same probe code.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import math
import os
import sys
import traceback
import zlib

import numpy as np
import torch
import torch.nn as nn

# Taken before the candidate's code is imported, so that a replaced attribute on torch
# does not change how the harness itself measures.
_autograd_grad = torch.autograd.grad
_no_grad = torch.no_grad
_from_numpy = torch.from_numpy

MASK64 = (1 << 64) - 1
SENTINEL = 7.0  # what init probes fill tensors with: a value no initializer produces


# ---------------------------------------------------------------------------- weights


def _uniform01(seed: int, key: str, count: int) -> np.ndarray:
    """Deterministic uniforms in [0, 1): splitmix64 over a counter, the same on any machine."""
    base = (seed * 0x9E3779B97F4A7C15 + zlib.crc32(key.encode()) * 0xD1B54A32D192ED03) & MASK64
    # In place, one scratch array: the same numbers as the plain expression in half the
    # time (a ResNet's 11 M weights are drawn twice per grading, inside and outside).
    z = np.arange(count, dtype=np.uint64)
    z *= np.uint64(0x9E3779B97F4A7C15)
    z += np.uint64(base)
    scratch = np.empty_like(z)
    for shift, factor in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
        np.right_shift(z, np.uint64(shift), out=scratch)
        z ^= scratch
        z *= np.uint64(factor)
    np.right_shift(z, np.uint64(31), out=scratch)
    z ^= scratch
    z >>= np.uint64(11)
    out = z.astype(np.float64)
    out *= 2.0**-53
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
    if leaf == "running_var":
        return 0.5 + u
    if leaf == "running_mean":
        return 0.2 * (2 * u - 1)
    if len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        return (2 * u - 1) * math.sqrt(6.0 / fan_in)
    if leaf == "weight":
        return 0.5 + u
    return 0.2 * (2 * u - 1)


def seeded_state(seed: int, shapes: dict[str, list[int]]) -> dict[str, np.ndarray]:
    return {name: seeded_value(seed, name, shape) for name, shape in shapes.items()}


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


def _build(factory, spec: dict):
    """The module, built on the meta device when only its structure is measured.

    Names and shapes need no weights: on "meta" a ResNet-152 is built in milliseconds
    instead of initialising 60 M parameters. Code that cannot run on meta (it reads a
    value while building) is built again on the CPU, so no solution fails for it.
    """
    args, kwargs = spec.get("args", []), spec.get("kwargs", {})
    if spec.get("weights") is None:
        try:
            with torch.device("meta"):
                return factory(*args, **kwargs)
        except Exception:
            pass
    return factory(*args, **kwargs)


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
    source = spec.get("arrays", spec["id"])
    try:
        if factory is None:
            raise AttributeError(f"solution has no {spec['factory']}")
        module = _build(factory, spec)
        if not isinstance(module, nn.Module):
            raise TypeError(f"{spec['factory']} returned {type(module).__name__}, not nn.Module")
    except BaseException as exc:
        out["errors"]["build"] = _error(exc)
        return out
    try:
        out.update(_structure(module))
    except BaseException as exc:
        out["errors"]["structure"] = _error(exc)
    weights = spec.get("weights")
    if weights is None:
        return out
    try:
        module = module.to(device=device, dtype=dtype)
        if weights == "arrays":
            prefix = source + "/sd/"
            state = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        else:
            shapes = {k: list(v.shape) for k, v in module.state_dict().items()}
            state = seeded_state(int(weights["seed"]), shapes)
            for name in weights.get("zero", []):
                if name in state:
                    state[name] = np.zeros_like(state[name])
        module.load_state_dict({k: _from_numpy(np.array(v)) for k, v in state.items()}, strict=True)
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
                grads = _autograd_grad(y, [xg] + [params[n] for n in names], g, allow_unused=True)
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


# ---------------------------------------------------------------------------- framing


def encode(value):
    """JSON-able data; float arrays as base64 of little-endian float64 bytes with a shape."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "iub":
            arr = np.ascontiguousarray(value, dtype="<i8")
            dtype = "<i8"
        elif value.dtype == np.float32:  # initialised weights: half the bytes, exact
            arr = np.ascontiguousarray(value, dtype="<f4")
            dtype = "<f4"
        else:
            arr = np.ascontiguousarray(value, dtype="<f8")
            dtype = "<f8"
        return {
            "__nd__": [int(s) for s in arr.shape],
            "dtype": dtype,
            "b64": base64.b64encode(arr.tobytes()).decode("ascii"),
        }
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": repr(value)}
    return value


def frame(nonce: str, payload: dict) -> bytes:
    body = base64.b64encode(json.dumps(encode(payload)).encode()).decode("ascii")
    return f"\n{nonce}:{body}:{nonce}\n".encode("ascii")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def bound_gpu_memory() -> float | None:
    """Cap this process's share of each GPU's memory, before the candidate's code runs.

    The sandbox says the share (SANDBOX_GPU_MEMORY_FRACTION, 1 / jobs per device). It
    guards against accidents, not against intent: code in this process can raise it
    again. A hard bound is the host's (MIG or MPS limits; README, "GPU sandboxes").
    """
    share = os.environ.get("SANDBOX_GPU_MEMORY_FRACTION")
    if not share or not torch.cuda.is_available():
        return None
    for index in range(torch.cuda.device_count()):
        torch.cuda.set_per_process_memory_fraction(float(share), index)
    return float(share)


def main() -> int:
    with open("plan.json", "rb") as f:
        plan = json.loads(f.read())
    with np.load("inputs.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    for name in ("plan.json", "inputs.npz", os.path.basename(__file__)):
        try:
            os.unlink(name)
        except OSError:
            pass
    nonce = plan.pop("nonce")
    # The real stdout moves to a private descriptor; whatever the candidate prints lands
    # on stderr, so nothing it writes can pass for the result frame.
    result_fd = os.dup(1)
    os.dup2(2, 1)
    torch.set_num_threads(1)
    # Device tests need the GPU the sandbox was to give. Without it nothing of the
    # candidate's runs: the worker reports our failure, never a CPU run in its place.
    devices = {str(p.get("device", "cpu")) for p in plan["probes"]}
    if any(d.startswith("cuda") for d in devices) and not torch.cuda.is_available():
        _write_all(result_fd, frame(nonce, {"probes": {}, "device_unavailable": True}))
        return 0
    bound_gpu_memory()
    # Full float32 on the GPU: TF32 would round convolutions and matmuls to 10 bits.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

    spec = importlib.util.spec_from_file_location("solution", "solution.py")
    solution = importlib.util.module_from_spec(spec)
    sys.modules["solution"] = solution
    try:
        spec.loader.exec_module(solution)
    except BaseException as exc:
        traceback.print_exc()
        sys.stderr.flush()
        if not isinstance(exc, torch.cuda.OutOfMemoryError):
            return 1
        _CUDA_OOM[0] = True
        results = {}
    else:
        results = measure(plan["probes"], arrays, solution)
    sys.stdout.flush()
    sys.stderr.flush()
    _write_all(result_fd, frame(nonce, {"probes": results, "cuda_oom": _CUDA_OOM[0]}))
    os.close(result_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
