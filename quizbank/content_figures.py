"""The figure keys content may declare (`figures:` / `figure:`, see content/SCHEMA.md).

The loader only checks that a key is known; tests/quizbank/figures.py recomputes every
key with torch and compares it with the value the content states.
"""

from __future__ import annotations

_DEPTHS = (18, 34, 50, 101, 152)
_WIDTHS = (64, 128, 256, 512)
_CIFAR_NS = (3, 9, 18, 200)  # n of R1's 6n + 2 CIFAR nets: 20, 56, 110, 1202 layers

FIGURE_KEYS: frozenset[str] = frozenset(
    [
        "basic_block_64_params",
        "basic_block_64_128_s2_params",
        "bottleneck_256_64_params",
        "bottleneck_64_64_256_proj_params",
        "bottleneck_256_128_512_s2_params",
        "basic_block_64_conv_weights",
        "basic_block_64_128_conv_weights",
        "bottleneck_256_64_conv_weights",
        "bottleneck_64_64_256_conv_weights",
        *(f"equal_width_basic_C{c}" for c in _WIDTHS),
        *(f"equal_width_bottleneck_C{c}" for c in _WIDTHS),
        "equal_width_ratio",
        *(f"resnet{d}_params" for d in _DEPTHS),
        "resnext50_32x4d_params",
        "resnext101_32x4d_params",
        "resnext50_32x4d_gmacs",
        *(f"resnet{d}_gmacs" for d in _DEPTHS),
        "resnet50_gmacs_paper",
        "resnet101_gmacs_paper",
        "resnet152_gmacs_paper",
        "p2_conv3x3_flops",
        "p2_basic_flops",
        "p2_bottleneck_flops",
        "p2_1x1_flops",
        "p2_3x3_64_flops",
        "p2_ratio",
        "he_std_conv64",
        "he_std_fan_out_64_128",
        "torch_default_conv_std",
        "xavier_relu_shrink",
        "se_weights_256_16",
        "se_params_256_16",
        "se_resnet50_extra_weights",
        "se_resnet50_extra_params",
        "se_overhead_vs_bottleneck_256",
        "vgg16_gmacs",
        "vgg19_gmacs",
        "vgg16_params",
        "vgg19_params",
        "resnet34_vs_vgg19_gmacs_ratio",
        *(f"cifar_resnet_depth_n{n}" for n in _CIFAR_NS),
        "cifar_resnet20_params",
        "cifar_resnet110_params",
        "stochastic_depth_expected_blocks_54",
    ]
)
