# expect: pass
# builds the layers with torch and counts numel
import torch.nn as nn


def _n(module):
    return sum(p.numel() for p in module.parameters())


def count_params_basic(C):
    return int(_n(nn.Conv2d(C, C, 3, bias=False)) * 2)


def count_params_bottleneck(C):
    m = C // 4
    convs = [
        nn.Conv2d(C, m, 1, bias=False),
        nn.Conv2d(m, m, 3, bias=False),
        nn.Conv2d(m, C, 1, bias=False),
    ]
    return int(sum(_n(c) for c in convs))


def _block(cin, width, stride, bottleneck):
    cout = 4 * width if bottleneck else width
    if bottleneck:
        layers = [
            nn.Conv2d(cin, width, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.Conv2d(width, width, 3, bias=False),
            nn.BatchNorm2d(width),
            nn.Conv2d(width, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
    else:
        layers = [
            nn.Conv2d(cin, width, 3, bias=False),
            nn.BatchNorm2d(width),
            nn.Conv2d(width, width, 3, bias=False),
            nn.BatchNorm2d(width),
        ]
    if stride != 1 or cin != cout:
        layers += [nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout)]
    return sum(_n(layer) for layer in layers), cout


def count_params_resnet(depth, num_classes=1000):
    bottleneck = depth >= 50
    blocks = {
        18: [2, 2, 2, 2],
        34: [3, 4, 6, 3],
        50: [3, 4, 6, 3],
        101: [3, 4, 23, 3],
        152: [3, 8, 36, 3],
    }[depth]
    total = _n(nn.Conv2d(3, 64, 7, bias=False)) + _n(nn.BatchNorm2d(64))
    cin = 64
    for i, n in enumerate(blocks):
        for j in range(n):
            count, cin = _block(cin, 64 << i, 2 if i and not j else 1, bottleneck)
            total += count
    return int(total + cin * num_classes + num_classes)
