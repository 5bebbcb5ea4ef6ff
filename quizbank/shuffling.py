"""The order in which a learner sees the options of a multiple-choice item.

Content lists the correct option wherever the author put it (often first), so showing the
YAML order would let "always pick the first" score. Every page that shows options (the
card, practice, the mock and the Anki deck) asks this module instead.

Guarantees:
- stable: the same learner and item give the same order on every request, so a reload
  or an htmx swap never reshuffles (the seed is a hash, not the process's random state);
- per learner: the seed is the learner's key plus the item's *slug*, so orders differ
  across learners and survive a reload of the bank (primary keys may change, slugs do not);
- a permutation: every option appears exactly once, and the grading is by option id, so
  the order never changes what is right.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

# The Anki deck is downloaded by one learner but may be shared; without a learner the
# deck still gets one fixed shuffle rather than the YAML order.
ANONYMOUS = "anonymous"


def shuffle_seed(*, learner_key: str, item_slug: str) -> int:
    """A 64-bit seed from the learner and the item; SHA-256 so that it is the same on
    every machine and Python version (the built-in `hash` of a str is salted per run)."""
    digest = hashlib.sha256(f"{learner_key}\x1f{item_slug}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def shuffled_for(options: Sequence[T], *, learner_key: str, item_slug: str) -> list[T]:
    """`options` in the learner's stable order for this item."""
    ordered = list(options)
    random.Random(shuffle_seed(learner_key=learner_key, item_slug=item_slug)).shuffle(ordered)
    return ordered


def learner_key_of(user) -> str:
    """The key a learner's shuffles hang on: their id (never their name, which can change)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return ANONYMOUS
    return f"user:{user.pk}"


def options_for(*, item, user) -> list:
    """The options of a multiple-choice `item` in `user`'s order; other kinds keep the
    stored order (an ordering item has its own never-correct shuffle)."""
    options = list(item.choices.all())
    if item.kind != "multiple_choice":
        return options
    return shuffled_for(options, learner_key=learner_key_of(user), item_slug=item.slug)
