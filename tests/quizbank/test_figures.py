"""Every computable figure is recomputed with torch and compared with what we teach.

(1) each key's computed value equals the value in content/SCHEMA.md's table (whose values
    come from the papers); (2) every `figures:` / `figure:` in the real content states
    the computed value; (3) every numeric item with a computable unit declares its figure.
Integers must match exactly; other values to the precision written, and never more than
0.5% off.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from pathlib import Path

import pytest
import torch
from torch import nn

from quizbank.content_figures import FIGURE_KEYS
from quizbank.content_items import COMPUTABLE_UNITS
from quizbank.content_source import content_read
from tests.quizbank import figures
from tests.quizbank.figures import FIGURES
from tests.quizbank.loading import REAL

SCHEMA = Path(__file__).resolve().parents[2] / "quizbank" / "content" / "SCHEMA.md"
MAX_RELATIVE = 0.005
NOT_COMPUTABLE_TAG = "not-computable"


def written_decimals(written: str) -> int:
    exponent = Decimal(written).as_tuple().exponent
    return -exponent if isinstance(exponent, int) else 0


def agrees(stated: float | int, computed: float | int, written: str | None = None) -> bool:
    """Integers (counts) exactly; other values to the written precision, <= 0.5% off."""
    if isinstance(computed, int) or (isinstance(stated, int) and float(computed).is_integer()):
        return stated == computed
    if isinstance(stated, int):
        return False  # an integer stated for a fractional value is only right if exact
    written = written if written is not None else repr(float(stated))
    half_unit = 0.5 * 10.0 ** (-written_decimals(written))
    tolerance = min(half_unit, MAX_RELATIVE * abs(computed))
    return abs(stated - computed) <= tolerance + 1e-15


@pytest.fixture(scope="module")
def computed() -> dict[str, float | int]:
    return {key: compute() for key, compute in FIGURES.items()}


def schema_table() -> dict[str, str]:
    """key -> written value, from the 'Declared figures' table of SCHEMA.md."""
    text = SCHEMA.read_text().split("## Declared figures", 1)[1]
    table: dict[str, str] = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or cells[0] in ("key", "---") or set(cells[0]) <= {"-"}:
            continue
        keys_cell, values_cell = cells[0], cells[1]
        if ".." in keys_cell:
            first, last = (part.strip() for part in keys_cell.split(".."))
            stem = re.sub(r"\d+", "{}", first)
            assert stem == re.sub(r"\d+", "{}", last)
            keys = [stem.format(depth) for depth in figures.DEPTHS]
        else:
            keys = []
            for part in re.split(r"\s*/\s*|\s*,\s*", keys_cell):
                keys.append(keys[0].rsplit("_", 1)[0] + part if part.startswith("_") else part)
        formula = re.fullmatch(r"(\d+) C\^2", values_cell)
        if formula:
            for key in keys:
                width = int(re.search(r"_C(\d+)$", key).group(1))
                table[key] = str(int(formula.group(1)) * width * width)
            continue
        values = re.split(r"\s*/\s*|\s*,\s*", values_cell)
        assert len(values) == len(keys), f"cannot pair {keys_cell!r} with {values_cell!r}"
        table.update(zip(keys, values, strict=True))
    return table


def test_the_registry_the_loader_and_schema_know_the_same_keys():
    assert set(FIGURES) == set(FIGURE_KEYS) == set(schema_table())


@pytest.mark.parametrize("key", sorted(FIGURE_KEYS))
def test_each_figure_recomputed_with_torch_matches_schema(key, computed):
    written = schema_table()[key]
    stated = int(written) if re.fullmatch(r"\d+", written) else float(written)
    assert agrees(stated, computed[key], written), (
        f"{key}: SCHEMA says {written}, torch {computed[key]}"
    )


def test_the_agreement_rule_is_exact_for_counts_and_bounded_for_decimals():
    assert agrees(25557032, 25557032) and not agrees(25557033, 25557032)
    assert not agrees(25.6e6, 25557032)
    assert agrees(0.059, 59 / 999.4) and agrees(4.09, 4.089184) and agrees(4.1, 4.089184)
    assert not agrees(3.8, 3.857973)  # the paper's rounded "3.8" is 1.5% off
    assert not agrees(0.0589, 0.0590278)  # right at 0.5%, wrong at the written precision
    assert not agrees(0.281, 0.0590278)


def test_he_init_measured_with_kaiming_normal_matches_sqrt_2_over_fan():
    fan_in = figures.measured_std(
        lambda w: nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu"), (64, 64, 3, 3)
    )
    assert abs(fan_in - math.sqrt(2 / 576)) < 0.001
    fan_out = figures.measured_std(
        lambda w: nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"),
        (128, 64, 3, 3),
    )
    assert abs(fan_out - math.sqrt(2 / 1152)) < 0.001
    fan_in_128 = figures.measured_std(
        lambda w: nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu"),
        (128, 64, 3, 3),
    )
    assert abs(fan_in_128 - 0.058926) < 0.001


def test_pytorch_default_conv_init_is_uniform_and_not_he_normal():
    conv = nn.Conv2d(64, 64, 3)
    torch.manual_seed(1)
    conv.reset_parameters()
    measured = conv.weight.detach().std().item()
    assert abs(measured - FIGURES["torch_default_conv_std"]()) / measured < MAX_RELATIVE
    assert measured < 0.5 * math.sqrt(2 / 576)


def test_xavier_with_relu_shrinks_the_signal_by_about_1_over_sqrt2_per_layer():
    torch.manual_seed(0)
    previous = torch.randn(4096, 512)  # pre-activations y_(l-1)
    ratios = []
    with torch.no_grad():
        for _ in range(8):
            layer = nn.Linear(512, 512, bias=False)
            nn.init.xavier_normal_(layer.weight)
            current = layer(torch.relu(previous))
            ratios.append(current.pow(2).mean().sqrt() / previous.pow(2).mean().sqrt())
            previous = current
    shrink = torch.stack(ratios).mean().item()
    assert abs(shrink - FIGURES["xavier_relu_shrink"]()) < 0.02


def test_resnet50_stage_shapes_match_the_stage_table():
    model = figures.resnet(50)
    shapes = {}
    for name in ("maxpool", "layer1", "layer2", "layer3", "layer4", "fc"):
        getattr(model, name).register_forward_hook(
            lambda m, i, o, name=name: shapes.__setitem__(name, tuple(o.shape[1:]))
        )
    model(torch.empty(1, 3, 224, 224, device="meta"))
    assert shapes == {
        "maxpool": (64, 56, 56),
        "layer1": (256, 56, 56),
        "layer2": (512, 28, 28),
        "layer3": (1024, 14, 14),
        "layer4": (2048, 7, 7),
        "fc": (1000,),
    }


def test_blocks_keep_or_change_shapes_as_stated():
    cases = [
        (figures.BasicBlock(64, 128, 2), (2, 64, 56, 56), (2, 128, 28, 28)),
        (figures.Bottleneck(64, 64), (2, 64, 56, 56), (2, 256, 56, 56)),
        (figures.Bottleneck(256, 128, 2), (2, 256, 56, 56), (2, 512, 28, 28)),
    ]
    with torch.no_grad():
        for block, shape_in, shape_out in cases:
            assert tuple(block(torch.randn(*shape_in)).shape) == shape_out


def real_entries():
    return list(content_read(folder=REAL).all())


def test_every_figure_stated_in_the_content_matches_torch(computed):
    failures, checked = [], 0
    for entry in real_entries():
        declared = dict(entry.data.get("figures") or {})
        if entry.data.get("figure") is not None:
            declared[entry.data["figure"]] = entry.data.get("answer")
        for key, stated in declared.items():
            where = f"{entry.file.relative_to(REAL)}: {entry.kind} '{entry.slug}', {key}"
            if key not in computed:
                failures.append(f"{where}: unknown figure key")
            elif isinstance(stated, bool) or not isinstance(stated, int | float):
                failures.append(f"{where}: stated value {stated!r} is not a number")
            elif not agrees(stated, computed[key]):
                failures.append(f"{where}: states {stated}, torch computes {computed[key]}")
            checked += 1
    assert not failures, "\n".join(failures)
    assert checked >= 10, f"only {checked} declared figures in the content"


def test_every_computable_numeric_answer_declares_its_figure():
    missing = []
    for entry in real_entries():
        data = entry.data
        if entry.kind != "item" or data.get("kind") != "numeric":
            continue
        if not COMPUTABLE_UNITS.search(str(data.get("unit", ""))):
            continue
        if data.get("figure") or NOT_COMPUTABLE_TAG in (data.get("tags") or []):
            continue
        missing.append(
            f"{entry.file.relative_to(REAL)}: item '{entry.slug}' (unit {data.get('unit')!r})"
        )
    assert not missing, "numeric items without `figure:`:\n" + "\n".join(missing)


def test_the_cifar_nets_have_6n_plus_2_layers_and_run_on_32x32_images():
    for n in figures.CIFAR_NS:
        assert FIGURES[f"cifar_resnet_depth_n{n}"]() == 6 * n + 2
    with torch.device("cpu"):
        model = figures.CifarBasicBlock(16, 32, 2)
        assert tuple(model(torch.randn(2, 16, 32, 32)).shape) == (2, 32, 16, 16)
    # Option A shortcuts hold no parameters: the count is the convs, BNs and fc only.
    convs = 3 * 16 * 9 + sum(
        9 * (cin * w + w * w)
        for cin, w in [(16, 16)] * 3 + [(16, 32)] + [(32, 32)] * 2 + [(32, 64)] + [(64, 64)] * 2
    )
    batchnorms = 2 * (16 + 2 * 3 * (16 + 32 + 64))
    assert FIGURES["cifar_resnet20_params"]() == convs + batchnorms + 64 * 10 + 10


def test_vgg_keeps_224_inputs_at_7x7_before_its_classifier():
    shapes = {}
    model = figures.vgg(19)
    model[-6].register_forward_hook(lambda m, i, o: shapes.__setitem__("flat", tuple(o.shape)))
    model(torch.empty(1, 3, 224, 224, device="meta"))
    assert shapes["flat"] == (1, 512 * 7 * 7)
    assert len([m for m in model if isinstance(m, nn.Conv2d)]) + 3 == 19
