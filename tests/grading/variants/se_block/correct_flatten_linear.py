# expect: pass
# F.linear on the layers' weights, flatten and unsqueeze
import torch.nn.functional as F
from torch import nn


class SEBlock(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        hidden = channels // reduction
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x):
        squeezed = x.flatten(2).mean(-1)
        h = F.relu(F.linear(squeezed, self.fc1.weight, self.fc1.bias))
        gate = F.linear(h, self.fc2.weight, self.fc2.bias).sigmoid()
        return x * gate.unsqueeze(-1).unsqueeze(-1)
