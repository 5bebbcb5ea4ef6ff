# expect: pass
# per-block formulas with a projection helper
def count_params_basic(C):
    conv3x3 = 3 * 3 * C * C
    return conv3x3 + conv3x3


def count_params_bottleneck(C):
    inner = C // 4
    return sum([1 * 1 * C * inner, 3 * 3 * inner * inner, 1 * 1 * inner * C])


def bn(c):
    return c + c


def projection(cin, cout):
    return cin * cout + bn(cout)


def basic_block(cin, cout):
    n = 9 * cin * cout + bn(cout) + 9 * cout * cout + bn(cout)
    return n + (projection(cin, cout) if cin != cout else 0)


def bottleneck_block(cin, width, first_of_stage):
    cout = 4 * width
    n = cin * width + bn(width) + 9 * width * width + bn(width) + width * cout + bn(cout)
    return n + (projection(cin, cout) if first_of_stage else 0)


def count_params_resnet(depth, num_classes=1000):
    layout = {
        18: (2, 2, 2, 2),
        34: (3, 4, 6, 3),
        50: (3, 4, 6, 3),
        101: (3, 4, 23, 3),
        152: (3, 8, 36, 3),
    }
    total = 3 * 64 * 49 + bn(64)
    cin = 64
    for width, n in zip((64, 128, 256, 512), layout[depth], strict=False):
        for j in range(n):
            if depth < 50:
                total += basic_block(cin, width)
                cin = width
            else:
                total += bottleneck_block(cin, width, j == 0)
                cin = 4 * width
    return total + cin * num_classes + num_classes
