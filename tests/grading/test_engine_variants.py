"""Graded through the real sandbox: correct solutions pass, plausible mistakes fail.

Each file under variants/<exercise>/ starts with `# expect: pass` or
`# expect: fail <categories>`: a wrong variant must fail at least one test of each
category named there (the category a learner would look at for that mistake).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from grading import engine

VARIANTS = Path(__file__).resolve().parent / "variants"
FILES = sorted(VARIANTS.glob("*/*.py"))


def _expectation(path: Path) -> tuple[bool, set[str]]:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), path
    words = first.removeprefix("# expect: ").split(maxsplit=1)
    if words[0] == "pass":
        return True, set()
    assert words[0] == "fail" and len(words) == 2, path
    return False, set(words[1].split(","))


def _slug(path: Path) -> str:
    return path.parent.name.replace("_", "-")


def test_every_exercise_has_three_correct_and_six_wrong_variants():
    kinds = Counter((_slug(p), p.name.split("_")[0]) for p in FILES)
    for spec in engine.exercise_list():
        assert kinds[(spec.slug, "correct")] >= 3, spec.slug
        assert kinds[(spec.slug, "wrong")] >= 6, spec.slug


@pytest.mark.docker
@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_variant_is_graded_as_its_header_says(path, sandbox_image):
    should_pass, categories = _expectation(path)
    verdict = engine.grade(
        exercise=_slug(path), source=path.read_text(), backend="docker", image=sandbox_image
    )
    failing = [t for t in verdict.tests if not t.passed]
    if should_pass:
        assert verdict.status == "passed", [(t.name, t.message) for t in failing] or verdict
        assert verdict.passed == verdict.total > 0 and verdict.score == 1.0
        return
    assert verdict.status == "failed", (verdict.status, verdict.error_kind, verdict.stderr_excerpt)
    assert categories <= {t.category for t in failing}, [(t.name, t.category) for t in failing]
    assert all(t.message for t in failing)
