"""Reference: a ResNet builder with torchvision's structure and names. Never sent into a sandbox."""

import torch
import torch.nn as nn

from grading.exercises.basic_block.reference import BasicBlock
from grading.exercises.bottleneck_block.reference import Bottleneck

LAYERS = {
    18: (BasicBlock, [2, 2, 2, 2]),
    34: (BasicBlock, [3, 4, 6, 3]),
    50: (Bottleneck, [3, 4, 6, 3]),
    101: (Bottleneck, [3, 4, 23, 3]),
    152: (Bottleneck, [3, 8, 36, 3]),
}


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        channels = 64
        stages = []
        for i, (width, blocks) in enumerate(zip([64, 128, 256, 512], layers, strict=True)):
            stride = 1 if i == 0 else 2
            stage = []
            for j in range(blocks):
                stage.append(block(channels, width, stride if j == 0 else 1))
                channels = width * block.expansion
            stages.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet(depth, num_classes=1000):
    if depth not in LAYERS:
        raise ValueError(f"depth must be one of {sorted(LAYERS)}, not {depth!r}")
    block, layers = LAYERS[depth]
    return ResNet(block, layers, num_classes)
