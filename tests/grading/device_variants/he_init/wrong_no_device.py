# device-bug: no-device
# the normal samples drawn on the CPU, then added to the tensor
import math

import torch
import torch.nn as nn


def kaiming_normal_(tensor, mode="fan_in"):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"unknown mode {mode!r}")
    receptive = math.prod(tensor.shape[2:])
    fan = (tensor.shape[1] if mode == "fan_in" else tensor.shape[0]) * receptive
    with torch.no_grad():
        noise = torch.randn(tensor.shape) * math.sqrt(2.0 / fan)
        return tensor.copy_(tensor * 0 + noise)


def init_resnet(model, zero_init_residual=False):
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            kaiming_normal_(m.weight, mode="fan_out")
        elif isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.fill_(1.0)
                m.bias.zero_()
    if zero_init_residual:
        for m in model.modules():
            last = getattr(m, "bn3", None) if type(m).__name__ == "Bottleneck" else None
            if type(m).__name__ == "BasicBlock":
                last = m.bn2
            if last is not None:
                with torch.no_grad():
                    last.weight.zero_()
    return model
