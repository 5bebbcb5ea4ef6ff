"""How the attempt page lays out its questions: all at once (the default), or one at a
time with a map of all of them, as in a real interview.

The choice lives in the attempt page's URL (`?view=one&q=3`), so a reload, the Save
button and the Back button keep the question the learner was on. Every question stays in
the form either way (only hidden), so autosave, drafts, the Save button and the clock's
automatic submit carry every answer whichever question is on screen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

ONE = "one"


@dataclass(frozen=True)
class Layout:
    one: bool
    current: int  # 1-based; 1 when all questions are shown

    def query(self) -> str:
        """The query string that keeps this layout ('' for all at once)."""
        return "?" + urlencode({"view": ONE, "q": self.current}) if self.one else ""


def layout_from(params: Mapping[str, str], *, count: int) -> Layout:
    """Read `view` and `q`; an unknown view means all at once, a `q` that is not a number
    is question 1, and one past the end is the last question."""
    if params.get("view") != ONE:
        return Layout(one=False, current=1)
    raw = str(params.get("q", "1"))
    number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 4 else 1
    return Layout(one=True, current=min(max(number, 1), max(count, 1)))
