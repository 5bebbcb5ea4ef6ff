# expect: pass
# torch.randn then copy_ in place; hasattr-based block detection
import torch
from torch import nn


def _fans(shape):
    receptive = 1
    for k in shape[2:]:
        receptive *= k
    return shape[1] * receptive, shape[0] * receptive


def kaiming_normal_(tensor, mode="fan_in"):
    fan_in, fan_out = _fans(tuple(tensor.shape))
    fans = {"fan_in": fan_in, "fan_out": fan_out}
    if mode not in fans:
        raise ValueError(f"unknown mode {mode!r}")
    fan = fans[mode]
    with torch.no_grad():
        tensor.copy_(torch.randn(tensor.shape) * (2.0 / fan) ** 0.5)
    return tensor


def init_resnet(model, zero_init_residual=False):
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            kaiming_normal_(module.weight, "fan_out")
        if isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
            with torch.no_grad():
                module.weight.copy_(torch.ones_like(module.weight))
                module.bias.copy_(torch.zeros_like(module.bias))
    # A second pass: blocks come before their own BatchNorms in modules().
    blocks = [m for m in model.modules() if hasattr(m, "downsample") and hasattr(m, "bn2")]
    for block in blocks if zero_init_residual else []:
        last = block.bn3 if hasattr(block, "bn3") else block.bn2
        with torch.no_grad():
            last.weight.zero_()
    return model
