"""Keyword and trap matching for free-text answers (the pre-ticks the learner confirms).

- A keyword matches at the start of a word and may run on: "regulariz" matches
  "regularization" and "regularizes", "optimi" matches both spellings of "optimisation",
  but "regulariz" does not match inside "unregularized". The last word of a multi-word
  keyword is a prefix too ("training error" matches "training errors").
- Markdown emphasis, backticks and hyphens do not hide a word: "**training** error" and
  "preactivation" / "pre-activation" match "training error" and "pre-activation".
- A trap phrase fires only when the answer *asserts* it: not when the clause rules it out
  ("rules out overfitting", "neither overfitting nor ...", "overfitting is excluded").
  Authors should still write traps as phrases only a wrong answer contains ("is
  overfitting", "caused by vanishing gradients"), which this check cannot misread.
"""

from __future__ import annotations

import re

# Words before a trap, in the same clause, that rule it out rather than assert it.
_RULED_OUT_BEFORE = re.compile(
    r"\b(?:not|no|never|neither|nor|without|rules? out|ruled out|ruling out|rather than|"
    r"instead of|unlike|isn't|aren't|wasn't|doesn't|cannot|can't|excludes?|rejects?|"
    r"myth|misconception|wrong|mistaken|mistake)\b[^.;:!?\n]*$"
)
# Words right after a trap that rule it out ("overfitting is excluded").
_RULED_OUT_AFTER = re.compile(
    r"^[^.;:!?\n]{0,25}?\b(?:is|are|was|were)\s+(?:not|excluded|ruled out|wrong|a myth)\b|"
    r"^[^.;:!?\n]{0,25}?\b(?:isn't|aren't|cannot|can't|does not|doesn't|would not|wouldn't)\b"
)


def normalise(text: str) -> str:
    """Lower case; LaTeX font commands and dollars, Markdown emphasis, backticks and
    hyphens between letters are dropped; runs of white space become one space."""
    text = (text or "").lower()
    # LaTeX: "$\\mathcal{F}(x) + x$" reads as "f(x) + x"
    text = re.sub(
        r"\\(?:mathcal|mathbf|mathrm|operatorname|text|boldsymbol)\{([^{}]*)\}", r"\1", text
    )
    text = re.sub(r"\\[,;!]|\$", "", text)
    text = re.sub(r"[*`_]", "", text)
    text = re.sub(r"(?<=\w)-(?=\w)", "", text)  # "pre-activation" -> "preactivation"
    return re.sub(r"\s+", " ", text).strip()


def _pattern(phrase: str) -> re.Pattern[str] | None:
    phrase = normalise(phrase)
    if not phrase:
        return None
    if re.fullmatch(r"[\w ]+", phrase):
        # From the start of a word; the end may run on (a stem or a plural).
        return re.compile(rf"(?<!\w){re.escape(phrase)}")
    return re.compile(re.escape(phrase))


def keyword_found(text: str, keyword: str) -> bool:
    """`text` must already be `normalise`d."""
    pattern = _pattern(keyword)
    return pattern is not None and pattern.search(text) is not None


def trap_asserted(text: str, phrase: str) -> bool:
    """Whether `text` (already `normalise`d) asserts the trap `phrase` somewhere."""
    pattern = _pattern(phrase)
    if pattern is None:
        return False
    for found in pattern.finditer(text):
        before = text[max(0, found.start() - 60) : found.start()]
        after = text[found.end() : found.end() + 40]
        if _RULED_OUT_BEFORE.search(before) or _RULED_OUT_AFTER.search(after):
            continue
        return True
    return False
