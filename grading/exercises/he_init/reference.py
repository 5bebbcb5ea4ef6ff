"""Reference: He-normal initialization without torch.nn.init. Never sent into a sandbox."""

import math

import torch
import torch.nn as nn


def kaiming_normal_(tensor, mode="fan_in"):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', not {mode!r}")
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    fan = (tensor.shape[1] if mode == "fan_in" else tensor.shape[0]) * receptive
    with torch.no_grad():
        return tensor.normal_(0.0, math.sqrt(2.0 / fan))


def init_resnet(model, zero_init_residual=False):
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            kaiming_normal_(m.weight, mode="fan_out")
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            with torch.no_grad():
                m.weight.fill_(1.0)
                m.bias.zero_()
    if zero_init_residual:
        for m in model.modules():
            name = type(m).__name__
            if name == "Bottleneck":
                with torch.no_grad():
                    m.bn3.weight.zero_()
            elif name == "BasicBlock":
                with torch.no_grad():
                    m.bn2.weight.zero_()
    return model
