"""Per exercise: a wrong solution that patches the harness from inside still fails.

Each case pairs a plausible mistake with `forger.FORGER`, which replaces every probe the
harness has, its Jacobian helper and its frame writer, and reports what it can make look
right (finite differences of the candidate's own forward, statistics of a correct
He-normal fill, wiped errors). Graded through the real Docker sandbox. Each test also
grades the wrong solution alone, so that the forgery is compared with what it tries to
hide: every category the mistake fails must still fail, and so must the verdict.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grading import engine
from grading.verdict import Verdict
from tests.grading.forger import FORGER
from tests.grading.pooled import sandbox_mode  # noqa: F401 - each test cold and pooled

pytestmark = pytest.mark.docker

VARIANTS = Path(__file__).resolve().parent / "variants"

CASES = {
    "basic-block": "basic_block/wrong_detached_skip.py",
    "bottleneck-block": "bottleneck_block/wrong_detached_skip.py",
    "preact-block": "preact_block/wrong_detached_skip.py",
    "se-block": "se_block/wrong_detached_gate.py",
    "he-init": "he_init/wrong_uniform.py",
    "param-count": "param_count/wrong_no_batchnorm.py",
    "resnet-builder": "resnet_builder/wrong_layers_50.py",
    "residual-backward": "residual_backward/wrong_missing_skip.py",
}


def _failing(verdict: Verdict) -> set[str]:
    return {t.name for t in verdict.tests if not t.passed}


def test_every_exercise_has_a_forgery_case():
    assert set(CASES) == {spec.slug for spec in engine.exercise_list()}


@pytest.mark.parametrize("slug", sorted(CASES))
def test_a_forgery_from_inside_does_not_rescue_a_wrong_solution(slug, sandbox_image):
    wrong = (VARIANTS / CASES[slug]).read_text()
    alone = engine.grade(exercise=slug, source=wrong, backend="docker", image=sandbox_image)
    assert alone.status == "failed"
    # The forgery runs first (at import), then the wrong solution's definitions.
    forged = engine.grade(
        exercise=slug, source=FORGER + "\n" + wrong, backend="docker", image=sandbox_image, seed=7
    )
    assert forged.status == "failed", (forged.status, forged.error_kind, forged.stderr_excerpt)
    categories = {t.category for t in alone.tests if not t.passed}
    assert categories <= {t.category for t in forged.tests if not t.passed}
    # What the forgery targets by name: the gradient at scale, the skip path, the fills.
    names = _failing(forged)
    if slug in ("basic-block", "bottleneck-block", "preact-block", "se-block"):
        at_scale = [n for n in names if n.startswith("input gradient,") and "batch" in n]
        assert at_scale or slug == "se-block", names
        if slug == "se-block":
            assert "input gradient, 128 channels, reduction 16, one 48x48 sample" in names
    if slug in ("basic-block", "bottleneck-block", "preact-block"):
        assert any(n.startswith("skip path: the gradient") for n in names), names
    if slug == "he-init":
        assert all(not t.passed for t in forged.tests if t.name.startswith("std = "))
    if slug == "residual-backward":
        assert "dx, n=256, d=128, h=256" in names


def test_the_he_init_attack_on_a_file_that_only_raises_scores_nothing(sandbox_image):
    starter = engine.exercise_get("he-init").starter_code
    verdict = engine.grade(
        exercise="he-init", source=FORGER + "\n" + starter, backend="docker", image=sandbox_image
    )
    assert verdict.status == "failed"
    # On the old harness this scored 40/40; only rejecting an unknown mode may still pass,
    # since the forger claims the ValueError a one-line check would raise.
    assert verdict.passed <= 1, [t.name for t in verdict.tests if t.passed]
