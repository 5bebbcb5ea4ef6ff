# expect: pass
# residual branch as an nn.Sequential built in forward
import torch
from torch import nn


class PreActBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        project = stride != 1 or in_channels != out_channels
        self.shortcut = (
            nn.Conv2d(in_channels, out_channels, 1, stride, bias=False) if project else None
        )

    def forward(self, x):
        a = torch.relu(self.bn1(x))
        rest = nn.Sequential(self.conv1, self.bn2, nn.ReLU(), self.conv2)
        return rest(a) + (x if self.shortcut is None else self.shortcut(a))
