# expect: pass
# tensor.data.normal_ with numpy-computed fans
import numpy as np
import torch.nn as nn


def kaiming_normal_(tensor, mode="fan_in"):
    if mode != "fan_in" and mode != "fan_out":
        raise ValueError("mode is fan_in or fan_out")
    dims = np.array(tensor.shape)
    receptive = int(np.prod(dims[2:])) if len(dims) > 2 else 1
    fan = int(dims[0 if mode == "fan_out" else 1]) * receptive
    tensor.data.normal_(mean=0.0, std=float(np.sqrt(2.0 / fan)))
    return tensor


def init_resnet(model, zero_init_residual=False):
    last_bns = set()
    if zero_init_residual:
        for m in model.modules():
            name = m.__class__.__name__
            if name == "Bottleneck":
                last_bns.add(m.bn3)
            elif name == "BasicBlock":
                last_bns.add(m.bn2)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            kaiming_normal_(m.weight, mode="fan_out")
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.data.fill_(0.0 if m in last_bns else 1.0)
            m.bias.data.zero_()
    return model
