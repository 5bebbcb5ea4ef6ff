"""Signals that grading sends for the apps built on it.

Grading does not know who listens: the review plan (learning) ticks its exercise tasks on
`exercise_passed`, and grading works the same whether or not anything is connected.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent after the transaction that stored a passed "submit" grading commits.
# Arguments: user (the learner), exercise (the exercise slug).
exercise_passed = Signal()
