# expect: pass
# stages composed with nn.Sequential in forward
import torch
from torch import nn


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_channels, mid_channels, stride=1):
        super().__init__()
        out = 4 * mid_channels
        for i, (cin, cout, k, s) in enumerate(
            [
                (in_channels, mid_channels, 1, 1),
                (mid_channels, mid_channels, 3, stride),
                (mid_channels, out, 1, 1),
            ],
            start=1,
        ):
            setattr(self, f"conv{i}", nn.Conv2d(cin, cout, k, s, padding=k // 2, bias=False))
            setattr(self, f"bn{i}", nn.BatchNorm2d(cout))
        self.downsample = None
        if (stride, in_channels) != (1, out):
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out, 1, stride, bias=False), nn.BatchNorm2d(out)
            )

    def forward(self, x):
        branch = nn.Sequential(
            self.conv1, self.bn1, nn.ReLU(), self.conv2, self.bn2, nn.ReLU(), self.conv3, self.bn3
        )
        skip = self.downsample(x) if self.downsample is not None else x
        return torch.relu(branch(x) + skip)
