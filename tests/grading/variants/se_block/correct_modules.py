# expect: pass
# pooling and activation modules, view
import torch.nn as nn


class SEBlock(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(channels, channels // reduction, bias=True)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Linear(channels // reduction, channels, bias=True)
        self.gate = nn.Sigmoid()

    def forward(self, x):
        n, c = x.shape[:2]
        y = self.pool(x).view(n, c)
        y = self.gate(self.fc2(self.relu(self.fc1(y))))
        return x * y.view(n, c, 1, 1)
