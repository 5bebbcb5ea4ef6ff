"""A forgery that patches the harness from inside the solution, as an attacker would.

`FORGER` is Python source prepended to a wrong solution. At import it reaches the harness
(`sys.modules["__main__"]`) and the probes it loaded (its `probes` module), and replaces
everything it can: every probe in `PROBES`, the Jacobian and gradient helpers, the
structure report and the frame writer. Where it can,
it reports what a correct solution would have produced without being one:

- module probes: gradients by central differences of the candidate's own forward pass
  (right whenever the forward is right, e.g. a detached skip), wherever that fits in time;
  the autograd Jacobian replaced by the finite-difference one; errors wiped;
- init probes: the statistics a correct He-normal fill would have (the attack that scored
  40/40 on a file whose functions only raise NotImplementedError);
- call probes: for residual_backward, finite differences of the forward the statement
  gives; old-style claims (params_total and friends) added to every result;
- the frame writer: wipes every "errors" entry before framing.
"""

FORGER = r'''
import math as _m
import sys as _sys

import numpy as _np
import torch as _torch

_H = _sys.modules["__main__"]
_P = _H.probes  # the probes the harness loaded from probes.py, before this code ran
_FD_BUDGET = 6000  # elements: finite differences beyond this would not finish in time
_orig_module, _orig_call, _orig_frame = _P.probe_module, _P.probe_call, _H.frame


def _fd_vjp(fn, tensors, g, eps=1e-6):
    """Central differences of sum(fn() * g) with respect to each tensor, in place."""
    out = []
    with _torch.no_grad():
        for t in tensors:
            flat, grad = t.view(-1), _torch.zeros(t.numel(), dtype=_torch.float64)
            for j in range(flat.numel()):
                keep = float(flat[j])
                flat[j] = keep + eps
                plus = float((fn() * g).sum())
                flat[j] = keep - eps
                minus = float((fn() * g).sum())
                flat[j] = keep
                grad[j] = (plus - minus) / (2 * eps)
            out.append(grad.reshape(t.shape).numpy())
    return out


def _forged_module(spec, arrays, solution):
    out = _orig_module(spec, arrays, solution)
    out["errors"] = {}
    if "jac" in out and "fd_jac" in out:
        out["jac"] = _np.round(out["fd_jac"], 8)  # exact 0s and 1s where they should be
    grad_key = spec["id"] + "/grad_out"
    if spec.get("weights") != "arrays" or "y" not in out or grad_key not in arrays:
        return out
    module = getattr(solution, spec["factory"])(*spec.get("args", []), **spec.get("kwargs", {}))
    module = module.to(_torch.float64)
    prefix = spec["id"] + "/sd/"
    module.load_state_dict({k[len(prefix):]: _torch.from_numpy(_np.array(v))
                            for k, v in arrays.items() if k.startswith(prefix)})
    module.train(spec.get("mode", "eval") == "train")
    x = _torch.from_numpy(_np.array(arrays[spec["id"] + "/x"])).clone()
    g = _torch.from_numpy(_np.array(arrays[grad_key]))
    params = [p for _, p in module.named_parameters()]
    if x.numel() + sum(p.numel() for p in params) > _FD_BUDGET:
        return out  # too large to difference in time: autograd's (wrong) answer stays
    grads = _fd_vjp(lambda: module(x.clone()), [x] + [p.data for p in params], g)
    cast = (lambda a: a.astype(_np.float32)) if spec.get("f32") else (lambda a: a)
    out["dx"] = cast(grads[0])
    names = [n for n, _ in module.named_parameters()]
    out["dparams"] = {n: cast(gr) for n, gr in zip(names, grads[1:])}
    return out


def _forged_call(spec, arrays, solution):
    out = _orig_call(spec, arrays, solution)
    out["errors"] = {}
    if spec.get("fn") != "residual_backward":
        return out
    x, w1, w2, g = (_torch.from_numpy(_np.array(arrays[a["array"]])).clone()
                    for a in spec["args"])
    if x.numel() + w1.numel() + w2.numel() > _FD_BUDGET:
        return out
    forward = lambda: x + _torch.relu(x @ w1.T) @ w2.T
    dx, dw1, dw2 = _fd_vjp(forward, [x, w1, w2], g)
    out["value"] = {"seq": [{"array": dx}, {"array": dw1}, {"array": dw2}]}
    return out


def _forged_init(spec, arrays, solution):
    cases = []
    for case in spec.get("cases", []):
        shape = case["shape"]
        receptive = _m.prod(shape[2:])
        fan = (shape[1] if case.get("mode") != "fan_out" else shape[0]) * receptive
        n = _m.prod(shape)
        cases.append({"error": "ValueError: bad mode" if case.get("mode") == "fan_avg" else "",
                      "same_object": True, "same_storage": True, "changed": True,
                      "returned_given": True, "init_calls": [], "n": n, "mean": 0.0,
                      "std": _m.sqrt(2.0 / fan), "frac1": 0.6827})
    return {"errors": {}, "cases": cases}


def _forged_init_model(spec, arrays, solution):
    params, last_bn = {}, set(_P.fixtures.small_resnet_layout()["last_bn"])
    for name, p in _P.fixtures.SmallResNet().named_parameters():
        n = p.numel()
        if p.dim() == 4:
            fan = p.shape[0] * p.shape[2] * p.shape[3]
            params[name] = {"n": n, "mean": 0.0, "std": _m.sqrt(2.0 / fan), "frac1": 0.6827}
        else:
            zero = name.endswith("bias") or (spec.get("flag") and name in last_bn)
            params[name] = {"n": n, "mean": 0.0, "std": 0.0,
                            "values": _np.full(n, 0.0 if zero else 1.0)}
    return {"errors": {}, "params": params}


def _wipe(value):
    if isinstance(value, dict):
        return {k: ({} if k == "errors" else _wipe(v)) for k, v in value.items()}
    return value


_P.PROBES.update(module=_forged_module, call=_forged_call, init=_forged_init,
                 init_model=_forged_init_model)
_P.probe_module, _P.probe_call = _forged_module, _forged_call
_P.probe_init, _P.probe_init_model = _forged_init, _forged_init_model
_P._jacobian = lambda fn, x: _np.round(_P._fd_jacobian(fn, x, 1e-6), 8)
_H.frame = lambda nonce, payload: _orig_frame(nonce, _wipe(payload))
'''
