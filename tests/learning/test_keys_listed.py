"""The card's keys are listed the same way in three places: what static/js/practice.js
handles, the list on the card pages (templates/learning/_keys.html) and the README's
table. A key added to one and not the others fails here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

# Names as people write them -> the KeyboardEvent.key values (and modifier) they mean.
NAMES = {"Space": " ", "Esc": "Escape", "Ctrl+Enter": "Ctrl+Enter", "S": "s"}


def _normal(name: str) -> str:
    name = name.replace("\u2013", "-").replace("`", "").strip()
    return NAMES.get(name, name)


def _keys_in_js() -> set[str]:
    source = (ROOT / "static" / "js" / "practice.js").read_text(encoding="utf-8")
    keys = {
        k.lower() if len(k) == 1 else k for k in re.findall(r'event\.key === "([^"]+)"', source)
    }
    keys |= {f"{a}-{b}" for a, b in re.findall(r"/\^\[(\d)-(\d)\]\$/", source)}
    if re.search(r'event\.key === "Enter" && \(event\.ctrlKey', source):
        keys.add("Ctrl+Enter")
    return keys


def _keys_on_the_page() -> list[str]:
    html = (ROOT / "templates" / "learning" / "_keys.html").read_text(encoding="utf-8")
    names = []
    for term in re.findall(r"<dt>(.*?)</dt>", html):
        text = re.sub(r"<[^>]+>", "", term).replace("&ndash;", "-")
        names.append(_normal(text))
    return names


def _keys_in_readme() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("| key | on a due or practice card |", 1)[1].split("\n\n", 1)[0]
    return [_normal(row.split("|")[1]) for row in table.strip().splitlines()[1:]]


def test_the_three_lists_agree():
    js = _keys_in_js()
    page = _keys_on_the_page()
    readme = _keys_in_readme()
    assert js == {" ", "1-9", "1-4", "Enter", "Ctrl+Enter", "Escape", "s"}
    assert page == readme
    assert set(page) == js
