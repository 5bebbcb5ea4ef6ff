# expect: pass
# branch composed with nn.Sequential in forward, torch.add + clamp
import torch
from torch import nn


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, (3, 3), (stride, stride), (1, 1), bias=False
        )
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, (3, 3), 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        needs_projection = stride > 1 or in_channels != out_channels
        self.downsample = (
            nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
            if needs_projection
            else None
        )

    def forward(self, x):
        branch = nn.Sequential(self.conv1, self.bn1, nn.ReLU(), self.conv2, self.bn2)
        skip = x if self.downsample is None else self.downsample(x)
        return torch.add(branch(x), skip).clamp_min(0)
