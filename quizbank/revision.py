"""The bank's revision: one counter on the Chapter row, bumped by every change to what the
plan is made of (parts, items, problems, exercise statements, mocks, review days and
tasks, and the tasks' links to them), so a cache of that structure knows when it is stale.

Every web process reads the chapter row on each request anyway; comparing its revision
with the one a cache was built at costs nothing and works across processes and hosts,
which an in-process signal alone would not. Signals catch admin edits and any save; the
loader, which also updates rows in bulk (no signals), bumps once when it is done.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

from django.db.models import F
from django.db.models.signals import m2m_changed, post_delete, post_save


class Batch:
    """Changes seen within revision_batched(); `mark()` adds one the signals cannot see
    (a bulk update)."""

    def __init__(self) -> None:
        self.changed = False

    def mark(self) -> None:
        self.changed = True


_batch: contextvars.ContextVar[Batch | None] = contextvars.ContextVar("bank_batch", default=None)


def revision_bump() -> None:
    """Mark every chapter's structure as changed (the product has one chapter; a change to
    a shared row such as a part could concern any)."""
    from quizbank.models import Chapter

    Chapter.objects.update(revision=F("revision") + 1)


@contextlib.contextmanager
def revision_batched() -> Iterator[Batch]:
    """Within: saves do not bump one by one; one bump at the end if anything changed (a
    load that writes nothing writes no revision either). Use it inside the transaction
    that writes: on an error that transaction rolls back, bump included."""
    batch = Batch()
    token = _batch.set(batch)
    try:
        yield batch
    finally:
        _batch.reset(token)
    if batch.changed:
        revision_bump()


def _changed(sender, **kwargs) -> None:
    if kwargs.get("raw") or kwargs.get("action", "post_").startswith("pre_"):
        return  # fixtures load as they are; m2m_changed also fires before the change
    batch = _batch.get()
    if batch is not None:
        batch.mark()
    else:
        revision_bump()


def revision_connect() -> None:
    from quizbank import models as m

    for model in (m.Part, m.Item, m.Problem, m.ExerciseStatement, m.MockScript, m.ReviewDay,
                  m.ReviewTask):  # fmt: skip
        post_save.connect(_changed, sender=model, dispatch_uid=f"bank-rev-save-{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"bank-rev-del-{model.__name__}")
    for relation in (m.ReviewTask.items, m.ReviewTask.also_problems, m.ReviewTask.also_exercises):
        m2m_changed.connect(
            _changed, sender=relation.through, dispatch_uid=f"bank-rev-m2m-{relation.field.name}"
        )
