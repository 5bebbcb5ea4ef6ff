"""Reference: parameter counts in closed form. Never sent into a sandbox.

The tests do not trust these formulas: they compare them with counts of real modules.
"""


def count_params_basic(C):
    return 2 * 9 * C * C


def count_params_bottleneck(C):
    m = C // 4
    return C * m + 9 * m * m + m * C


def _bn(c):
    return 2 * c


def _basic(cin, cout, stride):
    n = 9 * cin * cout + _bn(cout) + 9 * cout * cout + _bn(cout)
    if stride != 1 or cin != cout:
        n += cin * cout + _bn(cout)
    return n


def _bottleneck(cin, mid, stride):
    out = 4 * mid
    n = cin * mid + _bn(mid) + 9 * mid * mid + _bn(mid) + mid * out + _bn(out)
    if stride != 1 or cin != out:
        n += cin * out + _bn(out)
    return n


_LAYERS = {
    18: ("basic", [2, 2, 2, 2]),
    34: ("basic", [3, 4, 6, 3]),
    50: ("bottleneck", [3, 4, 6, 3]),
    101: ("bottleneck", [3, 4, 23, 3]),
    152: ("bottleneck", [3, 8, 36, 3]),
}


def count_params_resnet(depth, num_classes=1000):
    kind, layers = _LAYERS[depth]
    total = 3 * 64 * 49 + _bn(64)
    channels = 64
    for i, (width, blocks) in enumerate(zip([64, 128, 256, 512], layers, strict=True)):
        for j in range(blocks):
            stride = 2 if (i > 0 and j == 0) else 1
            if kind == "basic":
                total += _basic(channels, width, stride)
                channels = width
            else:
                total += _bottleneck(channels, width, stride)
                channels = 4 * width
    return total + channels * num_classes + num_classes
