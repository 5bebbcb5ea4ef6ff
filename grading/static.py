"""Rules read off the candidate's source, here in the worker, before anything runs.

Some exercises forbid a tool ("no torch.nn.init", "NumPy only, no autograd"). Whether the
tool was used cannot be measured inside the sandbox: the candidate's code shares the
harness's interpreter and can replace any recorder there. So the rule is decided here,
from the syntax tree of the submitted text, which the candidate cannot patch at run time.

A static check cannot see through every disguise, so it also forbids the ways of reaching
a module or attribute by a computed name (`__import__`, `importlib`, `getattr` with a
non-literal name, `eval`, `sys.modules`, dunder attributes other than a few harmless
ones). A solution to these exercises needs none of them. What is forbidden, and why, is
said to the learner line by line.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

# Ways to reach code by a computed name, or to reach the interpreter's internals.
DYNAMIC_NAMES = frozenset(
    {
        "__import__",
        "eval",
        "exec",
        "compile",
        "globals",
        "locals",
        "vars",
        "breakpoint",
        "__builtins__",
        "__loader__",
        "__spec__",
    }
)
# Dunder attributes a solution may use: class names (the he-init hint compares
# type(m).__name__), super().__init__, the usual protocol methods.
ALLOWED_DUNDERS = frozenset(
    {"__init__", "__name__", "__qualname__", "__class__", "__call__", "__len__", "__iter__"}
)
# Modules no solution here needs and that reach the interpreter's internals.
FORBIDDEN_MODULES = frozenset(
    {"sys", "gc", "inspect", "importlib", "builtins", "ctypes", "os", "subprocess", "types"}
)


@dataclass(frozen=True)
class Rules:
    """What a source may not contain; each entry maps a name to the reason shown."""

    # Top-level modules allowed in imports (None: any but FORBIDDEN_MODULES).
    modules_allowed: frozenset[str] | None = None
    # Dotted module paths whose import is forbidden ("torch.nn.init").
    modules_forbidden: dict[str, str] = field(default_factory=dict)
    # Attribute names forbidden wherever they are read ("init", "kaiming_normal_").
    attributes_forbidden: dict[str, str] = field(default_factory=dict)


def violations(source: str, rules: Rules) -> list[str]:
    """Every breach of `rules` in `source`, as "line N: what" (empty when it complies).

    The source has already compiled; a source that does not parse has no violations to
    report (the syntax error is the verdict).
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    found: set[tuple[int, str]] = set()

    def note(node: ast.AST, what: str) -> None:
        found.add((int(getattr(node, "lineno", 0)), what))

    def check_module(node: ast.AST, name: str) -> None:
        top = name.split(".", 1)[0]
        for path, why in rules.modules_forbidden.items():
            if name == path or name.startswith(path + "."):
                note(node, f"imports {name}: {why}")
                return
        if top in FORBIDDEN_MODULES:
            note(node, f"imports {name}: reaching the interpreter's internals is not allowed")
        elif rules.modules_allowed is not None and top not in rules.modules_allowed:
            allowed = ", ".join(sorted(rules.modules_allowed))
            note(node, f"imports {name}: only {allowed} may be imported here")

    def check_attribute(node: ast.AST, attr: str) -> None:
        if attr in rules.attributes_forbidden:
            note(node, f"uses .{attr}: {rules.attributes_forbidden[attr]}")
        elif attr.startswith("__") and attr.endswith("__") and attr not in ALLOWED_DUNDERS:
            note(node, f"uses .{attr}: reaching the interpreter's internals is not allowed")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check_module(node, alias.name)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                note(node, "relative imports are not allowed")
                continue
            check_module(node, module)
            for alias in node.names:
                check_module(node, f"{module}.{alias.name}")
                if alias.name in rules.attributes_forbidden:
                    check_attribute(node, alias.name)
        elif isinstance(node, ast.Attribute):
            check_attribute(node, node.attr)
        elif isinstance(node, ast.Name) and node.id in DYNAMIC_NAMES:
            note(node, f"uses {node.id}: computed names and code are not allowed here")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "delattr", "hasattr")
        ):
            name = node.args[1] if len(node.args) > 1 else None
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                note(node, f"calls {node.func.id} with a computed name: write the attribute out")
            else:
                check_attribute(node, name.value)
    # One line per breach, in source order, without repeats.
    return [f"line {line}: {what}" for line, what in sorted(found)]
