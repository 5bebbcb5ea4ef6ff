"""Finding the math in content text and checking that KaTeX renders it.

The spans are found the way the page finds them (static/js/app.js uses KaTeX's
auto-render with $$...$$, $...$, \\(...\\) and \\[...\\]), except that fenced and inline
code is skipped and `\\$` is a literal dollar, so code and escaped money are never math.
All expressions of one load are rendered by ONE node process running the vendored
KaTeX; where node is missing a structural check in Python stands in, with a warning.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

# (left, right, display) in the order auto-render tries them: "$$" before "$".
DELIMITERS: tuple[tuple[str, str, bool], ...] = (
    ("$$", "$$", True),
    ("$", "$", False),
    ("\\(", "\\)", False),
    ("\\[", "\\]", True),
)
_CODE = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)|`[^`\n]*`", re.DOTALL)
_NODE_TIMEOUT_S = 60

_RENDER_JS = r"""
const katex = require(process.argv[1]);
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const results = JSON.parse(input).map(([tex, display]) => {
    try {
      katex.renderToString(tex, { throwOnError: true, displayMode: display });
      return null;
    } catch (error) {
      return String((error && error.message) || error);
    }
  });
  process.stdout.write(JSON.stringify(results));
});
"""


@dataclass(frozen=True)
class MathSpan:
    tex: str
    display: bool
    # Set when the span could not even be delimited (an unclosed "$$", or a "$" whose
    # closing "$" hides inside an open brace): the page would show raw LaTeX.
    problem: str | None = None


class LatexCheckUnavailable(RuntimeError):
    """node exists but could not run KaTeX: the check cannot be trusted."""


def latex_spans(text: str) -> list[MathSpan]:
    """The math expressions of a Markdown text, as the page's auto-render would find them."""
    spans: list[MathSpan] = []
    for segment in _CODE.split(text):
        spans.extend(_split_segment(segment))
    return spans


def _split_segment(text: str) -> list[MathSpan]:
    spans: list[MathSpan] = []
    index = 0
    while index < len(text):
        start = _find_left(text, index)
        if start is None:
            break
        left, right, display = start[1]
        body_start = start[0] + len(left)
        end = _find_end(text, right, body_start)
        if end is None:
            # A lone "$" is money, not math; any other unclosed delimiter is a mistake.
            if left != "$" or _find_left_dollar(text, body_start):
                spans.append(
                    MathSpan(
                        tex=text[body_start : body_start + 60],
                        display=display,
                        problem=f"'{left}' is never closed (unbalanced braces or a missing '{right}')",
                    )
                )
            break  # auto-render stops at an unclosed delimiter too
        spans.append(MathSpan(tex=text[body_start:end], display=display))
        index = end + len(right)
    return spans


def _find_left(text: str, index: int) -> tuple[int, tuple[str, str, bool]] | None:
    while index < len(text):
        char = text[index]
        if char == "\\" and text[index + 1 : index + 2] == "$":
            index += 2
            continue
        for delimiter in DELIMITERS:
            if text.startswith(delimiter[0], index):
                return index, delimiter
        index += 1
    return None


def _find_left_dollar(text: str, index: int) -> bool:
    found = _find_left(text, index)
    return found is not None and found[1][0] in ("$", "$$")


def _find_end(text: str, right: str, index: int) -> int | None:
    """auto-render's findEndOfMath: the first `right` outside braces, skipping escapes."""
    depth = 0
    while index < len(text):
        if depth <= 0 and text.startswith(right, index):
            return index
        char = text[index]
        if char == "\\":
            index += 1
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        index += 1
    return None


def katex_path() -> Path:
    return Path(settings.BASE_DIR) / "static" / "vendor" / "katex" / "katex.min.js"


def node_path() -> str | None:
    return shutil.which("node")


def latex_check(spans: list[MathSpan]) -> tuple[list[str | None], str | None]:
    """Render every span; return one error message (or None) per span, and a warning.

    The warning is set when node is missing and the weaker Python check was used.
    """
    if not spans:
        return [], None
    to_render = [span for span in spans if span.problem is None]
    rendered, warning = _render(to_render)
    results = iter(rendered)
    return [span.problem if span.problem else next(results) for span in spans], warning


def _render(spans: list[MathSpan]) -> tuple[list[str | None], str | None]:
    if not spans:
        return [], None
    node = node_path()
    if node is None:
        warning = (
            "node not found: LaTeX was checked structurally only (braces, \\begin/\\end, "
            "\\left/\\right), not rendered with KaTeX; install node to check it fully"
        )
        return [latex_structure_error(span.tex) for span in spans], warning
    payload = json.dumps([[span.tex, span.display] for span in spans])
    try:
        completed = subprocess.run(
            [node, "-e", _RENDER_JS, str(katex_path())],
            input=payload,
            capture_output=True,
            text=True,
            timeout=_NODE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise LatexCheckUnavailable(f"could not run node for the LaTeX check: {error}") from error
    if completed.returncode != 0:
        raise LatexCheckUnavailable(
            f"node could not run KaTeX ({katex_path().name}): {completed.stderr.strip()[-500:]}"
        )
    results = json.loads(completed.stdout)
    return [None if result is None else str(result) for result in results], None


_ENV = re.compile(r"\\(begin|end)\s*\{([^}]*)\}")


def latex_structure_error(tex: str) -> str | None:
    """A Python stand-in for KaTeX: catches unbalanced structure, not unknown macros."""
    depth = 0
    index = 0
    while index < len(tex):
        char = tex[index]
        if char == "\\":
            index += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                return "unmatched '}'"
        index += 1
    if depth > 0:
        return "unmatched '{'"
    stack: list[str] = []
    for match in _ENV.finditer(tex):
        kind, name = match.group(1), match.group(2).strip()
        if kind == "begin":
            stack.append(name)
        elif not stack or stack.pop() != name:
            return f"\\end{{{name}}} without a matching \\begin{{{name}}}"
    if stack:
        return f"\\begin{{{stack[-1]}}} without \\end{{{stack[-1]}}}"
    lefts = len(re.findall(r"\\left(?![a-zA-Z])", tex))
    rights = len(re.findall(r"\\right(?![a-zA-Z])", tex))
    if lefts != rights:
        return f"{lefts} \\left but {rights} \\right"
    return None
