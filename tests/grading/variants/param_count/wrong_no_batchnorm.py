# expect: fail params
# forgets BatchNorm parameters
STAGES = {
    18: ("basic", [2, 2, 2, 2]),
    34: ("basic", [3, 4, 6, 3]),
    50: ("bottleneck", [3, 4, 6, 3]),
    101: ("bottleneck", [3, 4, 23, 3]),
    152: ("bottleneck", [3, 8, 36, 3]),
}


def count_params_basic(C):
    return 18 * C * C


def count_params_bottleneck(C):
    m = C // 4
    return C * m + 9 * m * m + m * C


def count_params_resnet(depth, num_classes=1000):
    kind, blocks = STAGES[depth]
    total = 7 * 7 * 3 * 64
    cin = 64
    for stage, n in enumerate(blocks):
        width = 64 * 2**stage
        cout = width if kind == "basic" else 4 * width
        for b in range(n):
            stride = 2 if stage > 0 and b == 0 else 1
            if kind == "basic":
                total += 9 * cin * width + 9 * width * width
            else:
                total += cin * width + 9 * width * width + width * cout
            if stride != 1 or cin != cout:
                total += cin * cout
            cin = cout
    return total + cin * num_classes + num_classes
