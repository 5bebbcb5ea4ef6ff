"""Every figure key of content/SCHEMA.md, computed with torch.

The networks are torchvision's recipes written out in plain torch (torchvision is not
installable here): convolutions without bias, BatchNorm with affine weight and bias,
projection shortcut = 1x1 conv with the stride + BatchNorm, bottleneck expansion 4 with
the stride on the 3x3 ("v1.5") unless `stride_on_1x1` asks for the paper's placement.
Multiply-adds are counted by forward hooks on Conv2d and Linear from output shapes only,
on the meta device, so no arithmetic is done and a ResNet-152 costs milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import torch
from torch import nn

# --- the networks ---------------------------------------------------------------------


def conv3x3(cin: int, cout: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, groups=groups, bias=False)


def conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


def projection(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(conv1x1(cin, cout, stride), nn.BatchNorm2d(cout))


class SqueezeExcite(nn.Module):
    """SE-Net's block: global pool, FC C -> C/r, ReLU, FC C/r -> C, sigmoid, rescale."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.fc1 = nn.Linear(channels, channels // reduction)
        self.fc2 = nn.Linear(channels // reduction, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.mean(dim=(2, 3))
        scale = torch.sigmoid(self.fc2(torch.relu(self.fc1(scale))))
        return x * scale[:, :, None, None]


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, **_: object) -> None:
        super().__init__()
        self.conv1 = conv3x3(cin, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        needs_projection = stride != 1 or cin != planes
        self.downsample = projection(cin, planes, stride) if needs_projection else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return torch.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(
        self,
        cin: int,
        planes: int,
        stride: int = 1,
        *,
        groups: int = 1,
        width_per_group: int = 64,
        stride_on_1x1: bool = False,
        se_reduction: int | None = None,
    ) -> None:
        super().__init__()
        width = int(planes * (width_per_group / 64.0)) * groups
        cout = planes * self.expansion
        self.conv1 = conv1x1(cin, width, stride if stride_on_1x1 else 1)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, 1 if stride_on_1x1 else stride, groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, cout)
        self.bn3 = nn.BatchNorm2d(cout)
        self.se = SqueezeExcite(cout, se_reduction) if se_reduction else None
        needs_projection = stride != 1 or cin != cout
        self.downsample = projection(cin, cout, stride) if needs_projection else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.se is not None:
            out = self.se(out)
        identity = x if self.downsample is None else self.downsample(x)
        return torch.relu(out + identity)


class ResNet(nn.Module):
    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: list[int],
        num_classes: int = 1000,
        **block_options: object,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        stages = []
        cin = 64
        for index, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers, strict=True)):
            stride = 1 if index == 0 else 2  # stage 1 keeps 56x56: the maxpool already halved
            stage = []
            for position in range(blocks):
                stage.append(block(cin, planes, stride if position == 0 else 1, **block_options))
                cin = planes * block.expansion
            stages.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


DEPTHS: dict[int, tuple[type[BasicBlock] | type[Bottleneck], list[int]]] = {
    18: (BasicBlock, [2, 2, 2, 2]),
    34: (BasicBlock, [3, 4, 6, 3]),
    50: (Bottleneck, [3, 4, 6, 3]),
    101: (Bottleneck, [3, 4, 23, 3]),
    152: (Bottleneck, [3, 8, 36, 3]),
}


def resnet(depth: int, *, device: str = "meta", **options: object) -> ResNet:
    block, layers = DEPTHS[depth]
    with torch.device(device):
        return ResNet(block, layers, **options)


def resnext(depth: int, *, groups: int = 32, width: int = 4) -> ResNet:
    return resnet(depth, groups=groups, width_per_group=width)


# --- counting -------------------------------------------------------------------------


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def count_conv_weights(module: nn.Module) -> int:
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv2d))


def count_macs(module: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of every Conv2d and Linear for one forward pass, from shapes only."""
    total = 0

    def on_conv(layer: nn.Conv2d, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
        nonlocal total
        kh, kw = layer.kernel_size
        per_output = (layer.in_channels // layer.groups) * kh * kw
        total += output[0].numel() * per_output  # one image of the batch

    def on_linear(layer: nn.Linear, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
        nonlocal total
        total += output[0].numel() * layer.in_features

    hooks = []
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            hooks.append(layer.register_forward_hook(on_conv))
        elif isinstance(layer, nn.Linear):
            hooks.append(layer.register_forward_hook(on_linear))
    device = next(module.parameters()).device
    try:
        with torch.no_grad():
            module(torch.empty(*input_shape, device=device))
    finally:
        for hook in hooks:
            hook.remove()
    return total


def _meta(factory: Callable[[], nn.Module]) -> nn.Module:
    with torch.device("meta"):
        return factory()


def block_params(factory: Callable[[], nn.Module]) -> int:
    return count_params(_meta(factory))


def block_conv_weights(factory: Callable[[], nn.Module]) -> int:
    return count_conv_weights(_meta(factory))


def equal_width_basic(channels: int) -> int:
    """The chapter's comparison: two 3x3 convs at width C (conv weights only)."""
    return count_conv_weights(
        _meta(lambda: nn.Sequential(conv3x3(channels, channels), conv3x3(channels, channels)))
    )


def equal_width_bottleneck(channels: int) -> int:
    """C -> C/4 (1x1), C/4 -> C/4 (3x3), C/4 -> C (1x1), conv weights only."""
    inner = channels // 4
    return count_conv_weights(
        _meta(
            lambda: nn.Sequential(
                conv1x1(channels, inner), conv3x3(inner, inner), conv1x1(inner, channels)
            )
        )
    )


@cache
def gmacs(depth: int, stride_on_1x1: bool = False) -> float:
    options = {"stride_on_1x1": True} if stride_on_1x1 else {}
    return count_macs(resnet(depth, **options), (1, 3, 224, 224)) / 1e9


def problem2_flops(cin: int, cout: int, kernel: int) -> int:
    """Problem 2: one convolution at 56x56 (padding keeps the size), 2 FLOPs per MAC."""
    layer = _meta(lambda: nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False))
    return 2 * count_macs(layer, (1, cin, 56, 56))


def p2_bottleneck() -> int:
    return problem2_flops(256, 64, 1) + problem2_flops(64, 64, 3) + problem2_flops(64, 256, 1)


def p2_basic() -> int:
    return 2 * problem2_flops(256, 256, 3)


# --- initialisation -------------------------------------------------------------------


def he_std(cin: int, cout: int, mode: str) -> float:
    """The std kaiming_normal_ targets: gain(relu) / sqrt(fan), fan as torch computes it."""
    weight = torch.empty(cout, cin, 3, 3)
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(weight)
    fan = fan_in if mode == "fan_in" else fan_out
    return nn.init.calculate_gain("relu") / math.sqrt(fan)


def measured_std(
    init: Callable[[torch.Tensor], object], shape: tuple[int, ...], seed: int = 0
) -> float:
    torch.manual_seed(seed)
    weight = torch.empty(*shape)
    init(weight)
    return weight.std().item()


def torch_default_conv_std(resets: int = 50) -> float:
    """PyTorch's default Conv2d(64, 64, 3) init, measured.

    The default draws from a uniform U(-b, b); the largest |w| over ~1.8M draws pins b to
    within ~1e-6 relative, and a uniform's std is b / sqrt(3). The measured std itself is
    checked against it in test_figures.
    """
    torch.manual_seed(0)
    conv = nn.Conv2d(64, 64, 3)
    largest = 0.0
    for _ in range(resets):
        conv.reset_parameters()
        largest = max(largest, conv.weight.detach().abs().max().item())
    return largest / math.sqrt(3)


def xavier_relu_shrink() -> float:
    """Per-layer scale of the activations' RMS under Xavier init with ReLU (square layers).

    Var(y_l) = n Var(w) E[x^2] with E[x^2] = Var(y_(l-1)) / 2 for a symmetric y; Xavier's
    Var(w) = 2 / (n_in + n_out) is read from torch's own init on a 512x512 layer.
    """
    layer = nn.Linear(512, 512)
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(layer.weight)
    xavier_var = 2.0 / (fan_in + fan_out)
    return math.sqrt(fan_in * xavier_var * 0.5)


# --- SE -------------------------------------------------------------------------------


def se_counts(channels: int = 256, reduction: int = 16) -> tuple[int, int]:
    se = _meta(lambda: SqueezeExcite(channels, reduction))
    weights = se.fc1.weight.numel() + se.fc2.weight.numel()
    return weights, count_params(se)


@cache
def se_resnet50_extra() -> tuple[int, int]:
    plain = resnet(50)
    with_se = resnet(50, se_reduction=16)
    se_layers = [m for m in with_se.modules() if isinstance(m, SqueezeExcite)]
    weights = sum(m.fc1.weight.numel() + m.fc2.weight.numel() for m in se_layers)
    return weights, count_params(with_se) - count_params(plain)


# --- VGG (R1's comparison) ------------------------------------------------------------

VGG_CONFIGS: dict[int, list[int | str]] = {
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M"]
    + [512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def vgg(depth: int) -> nn.Sequential:
    """VGG-16 / VGG-19 (configurations D and E) as torchvision builds them, on meta."""
    return _meta(lambda: _vgg(depth))


def _vgg(depth: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 3
    for spec in VGG_CONFIGS[depth]:
        if spec == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(channels, int(spec), 3, padding=1), nn.ReLU()]
            channels = int(spec)
    classifier = [nn.Flatten(), nn.Linear(512 * 7 * 7, 4096), nn.ReLU()]
    classifier += [nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 1000)]
    return nn.Sequential(*layers, *classifier)


@cache
def vgg_gmacs(depth: int) -> float:
    return count_macs(vgg(depth), (1, 3, 224, 224)) / 1e9


# --- CIFAR ResNets (R1 section 4.2: 6n + 2 layers, option A shortcuts) ------------------


class CifarBasicBlock(nn.Module):
    """Two 3x3 convs; option A shortcut: subsample and zero-pad channels, no parameters."""

    def __init__(self, cin: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = conv3x3(cin, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.stride = stride
        self.extra_channels = planes - cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x[:, :, :: self.stride, :: self.stride]
        if self.extra_channels:
            shortcut = nn.functional.pad(shortcut, (0, 0, 0, 0, 0, self.extra_channels))
        return torch.relu(out + shortcut)


def cifar_resnet(n: int, num_classes: int = 10) -> nn.Sequential:
    """3x3 conv (16), three stages of n blocks at widths 16/32/64, pool, fc: 6n + 2 layers."""
    return _meta(lambda: _cifar_resnet(n, num_classes))


def _cifar_resnet(n: int, num_classes: int) -> nn.Sequential:
    layers: list[nn.Module] = [conv3x3(3, 16), nn.BatchNorm2d(16), nn.ReLU()]
    channels = 16
    for stage, width in enumerate((16, 32, 64)):
        for position in range(n):
            stride = 2 if stage > 0 and position == 0 else 1
            layers.append(CifarBasicBlock(channels, width, stride))
            channels = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, num_classes)]
    return nn.Sequential(*layers)


def weighted_layers(module: nn.Module) -> int:
    """Depth as R1 counts it: convolutions and fully connected layers."""
    return sum(isinstance(m, nn.Conv2d | nn.Linear) for m in module.modules())


def stochastic_depth_expected_blocks(blocks: int, last_survival: float = 0.5) -> float:
    """Expected active blocks when survival falls linearly from 1 to `last_survival`."""
    return sum(1 - (index / blocks) * (1 - last_survival) for index in range(1, blocks + 1))


# --- the registry ---------------------------------------------------------------------

CIFAR_NS = (3, 9, 18, 200)

FIGURES: dict[str, Callable[[], float]] = {
    "basic_block_64_params": lambda: block_params(lambda: BasicBlock(64, 64)),
    "basic_block_64_128_s2_params": lambda: block_params(lambda: BasicBlock(64, 128, 2)),
    "bottleneck_256_64_params": lambda: block_params(lambda: Bottleneck(256, 64)),
    "bottleneck_64_64_256_proj_params": lambda: block_params(lambda: Bottleneck(64, 64)),
    "bottleneck_256_128_512_s2_params": lambda: block_params(lambda: Bottleneck(256, 128, 2)),
    "basic_block_64_conv_weights": lambda: block_conv_weights(lambda: BasicBlock(64, 64)),
    "basic_block_64_128_conv_weights": lambda: block_conv_weights(lambda: BasicBlock(64, 128, 2)),
    "bottleneck_256_64_conv_weights": lambda: block_conv_weights(lambda: Bottleneck(256, 64)),
    "bottleneck_64_64_256_conv_weights": lambda: block_conv_weights(lambda: Bottleneck(64, 64)),
    **{f"equal_width_basic_C{c}": (lambda c=c: equal_width_basic(c)) for c in (64, 128, 256, 512)},
    **{
        f"equal_width_bottleneck_C{c}": (lambda c=c: equal_width_bottleneck(c))
        for c in (64, 128, 256, 512)
    },
    "equal_width_ratio": lambda: equal_width_bottleneck(256) / equal_width_basic(256),
    **{f"resnet{d}_params": (lambda d=d: count_params(resnet(d))) for d in DEPTHS},
    "resnext50_32x4d_params": lambda: count_params(resnext(50)),
    "resnext101_32x4d_params": lambda: count_params(resnext(101)),
    "resnext50_32x4d_gmacs": lambda: count_macs(resnext(50), (1, 3, 224, 224)) / 1e9,
    **{f"resnet{d}_gmacs": (lambda d=d: gmacs(d)) for d in DEPTHS},
    **{f"resnet{d}_gmacs_paper": (lambda d=d: gmacs(d, True)) for d in (50, 101, 152)},
    "p2_conv3x3_flops": lambda: problem2_flops(256, 256, 3),
    "p2_basic_flops": p2_basic,
    "p2_bottleneck_flops": p2_bottleneck,
    "p2_1x1_flops": lambda: problem2_flops(256, 64, 1),
    "p2_3x3_64_flops": lambda: problem2_flops(64, 64, 3),
    "p2_ratio": lambda: p2_bottleneck() / p2_basic(),
    "he_std_conv64": lambda: he_std(64, 64, "fan_in"),
    "he_std_fan_out_64_128": lambda: he_std(64, 128, "fan_out"),
    "torch_default_conv_std": torch_default_conv_std,
    "xavier_relu_shrink": xavier_relu_shrink,
    "se_weights_256_16": lambda: se_counts()[0],
    "se_params_256_16": lambda: se_counts()[1],
    "se_resnet50_extra_weights": lambda: se_resnet50_extra()[0],
    "se_resnet50_extra_params": lambda: se_resnet50_extra()[1],
    "vgg16_gmacs": lambda: vgg_gmacs(16),
    "vgg19_gmacs": lambda: vgg_gmacs(19),
    "vgg16_params": lambda: count_params(vgg(16)),
    "vgg19_params": lambda: count_params(vgg(19)),
    "resnet34_vs_vgg19_gmacs_ratio": lambda: gmacs(34) / vgg_gmacs(19),
    **{
        f"cifar_resnet_depth_n{n}": (lambda n=n: weighted_layers(cifar_resnet(n))) for n in CIFAR_NS
    },
    "cifar_resnet20_params": lambda: count_params(cifar_resnet(3)),
    "cifar_resnet110_params": lambda: count_params(cifar_resnet(18)),
    "stochastic_depth_expected_blocks_54": lambda: stochastic_depth_expected_blocks(54),
    "se_overhead_vs_bottleneck_256": lambda: (
        se_counts()[0] / block_conv_weights(lambda: Bottleneck(256, 64))
    ),
}
