# expect: fail init
# returns a new tensor instead of filling the given one
import math

import torch
import torch.nn as nn


def kaiming_normal_(tensor, mode="fan_in"):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(mode)
    receptive = math.prod(tensor.shape[2:])
    fan = tensor.shape[1] * receptive if mode == "fan_in" else tensor.shape[0] * receptive
    std = math.sqrt(2.0 / fan)
    return torch.randn(tensor.shape) * std


def init_resnet(model, zero_init_residual=False):
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            kaiming_normal_(m.weight, mode="fan_out")
        elif isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.fill_(1.0)
                m.bias.fill_(0.0)
    if zero_init_residual:
        for m in model.modules():
            if type(m).__name__ == "Bottleneck":
                with torch.no_grad():
                    m.bn3.weight.zero_()
            elif type(m).__name__ == "BasicBlock":
                with torch.no_grad():
                    m.bn2.weight.zero_()
    return model
