"""The layout of the apps: who may import whom, and no import circles between modules.

The rules are the ones docs/architecture.md states; a new import that breaks them fails
here rather than in a review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["config", "quizbank", "accounts", "learning", "interviews", "grading", "sandbox", "lab"]

# What each app may import of ours (besides itself). `config` wires everything together.
ALLOWED = {
    "quizbank": set(),
    "accounts": set(),
    "sandbox": set(),
    "grading": {"config", "quizbank", "accounts", "sandbox"},
    "learning": {"quizbank", "accounts", "grading"},
    "interviews": {"quizbank", "accounts", "learning", "grading", "lab"},
    "lab": {"config", "accounts", "grading", "sandbox"},
}
# The only grading modules learning may import: the signals grading sends.
LEARNING_SEES_OF_GRADING = {"grading.events"}
# The only lab module interviews may import: the learner's curves for the paper discussion.
INTERVIEWS_SEES_OF_LAB = {"lab.selectors"}

# A module longer than this is split by responsibility (docs/architecture.md). Tests and
# migrations are not counted.
MAX_MODULE_LINES = 450
# Modules allowed over the limit while a split is under way (none now). Do not add to it:
# split the module instead.
TOO_LONG_FOR_NOW: set[str] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts or "content" in path.parts:
                continue
            found[_module_name(path)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    """Every module of ours that `module` imports at run time, at any depth of its code
    (imports inside functions count: they close a circle just as well); imports under
    `if TYPE_CHECKING:` never run and do not count."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            # the longest prefix that is one of our modules
            parts = name.split(".")
            for end in range(len(parts), 0, -1):
                candidate = ".".join(parts[:end])
                if candidate in known:
                    if candidate != module:
                        found.add(candidate)
                    break
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    sources = _sources()
    known = set(sources)
    return {module: _imports(path, module, known) for module, path in sources.items()}


def _app(module: str) -> str:
    return module.split(".")[0]


def test_each_app_imports_only_the_apps_below_it(graph):
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if _app(module) in ALLOWED
        for target in targets
        if _app(target) != _app(module) and _app(target) not in ALLOWED[_app(module)]
    )
    assert wrong == []


def test_learning_hears_from_grading_only_through_its_signals(graph):
    seen = {
        target
        for module, targets in graph.items()
        if _app(module) == "learning"
        for target in targets
        if _app(target) == "grading"
    }
    assert seen <= LEARNING_SEES_OF_GRADING


def test_interviews_read_the_lab_only_through_its_selectors(graph):
    seen = {
        target
        for module, targets in graph.items()
        if _app(module) == "interviews"
        for target in targets
        if _app(target) == "lab"
    }
    assert seen <= INTERVIEWS_SEES_OF_LAB


def test_the_sandbox_imports_nothing_of_django():
    users = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "sandbox").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("django"))
        or (
            isinstance(node, ast.Import)
            and any(alias.name.split(".")[0] == "django" for alias in node.names)
        )
    )
    assert users == []


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_one_that_imports_it_back(graph):
    assert _circles(graph) == []


def test_the_circle_check_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _too_long(paths: dict[str, Path], limit: int, root: Path = ROOT) -> dict[str, int]:
    """The modules of `paths` with more than `limit` lines, by path from `root`."""
    counts = {
        path.relative_to(root).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in paths.values()
        if "tests" not in path.relative_to(root).parts
    }
    return {name: n for name, n in sorted(counts.items()) if n > limit}


def test_no_module_is_longer_than_the_limit():
    too_long = _too_long(_sources(), MAX_MODULE_LINES)
    assert {k: v for k, v in too_long.items() if k not in TOO_LONG_FOR_NOW} == {}


def test_the_allowed_long_modules_still_need_it():
    """An entry of TOO_LONG_FOR_NOW whose module was split (or removed) must go."""
    too_long = _too_long(_sources(), MAX_MODULE_LINES)
    assert sorted(name for name in TOO_LONG_FOR_NOW if name not in too_long) == []


def test_the_length_check_finds_a_long_module(tmp_path):
    (tmp_path / "long.py").write_text("x = 1\n" * 451, encoding="utf-8")
    (tmp_path / "short.py").write_text("x = 1\n" * 450, encoding="utf-8")
    paths = {"long": tmp_path / "long.py", "short": tmp_path / "short.py"}
    assert _too_long(paths, 450, root=tmp_path) == {"long.py": 451}
