"""Views kept up to date by the table's stream rather than by the write paths.

`functions/order_stream` hands every stream record of an order's partition (the order, its items,
invoice, history, actions, notes), and every entry of a client's credit ledger, to `apply`, which gives it to each projection of `PROJECTIONS`
in turn. A projection is a module with `handle(change)`; it reads what it needs from the change's
images and must be idempotent on its own: a failed record is retried from the stream with every
projection run again, and a record may be delivered twice. What they keep trails the writes by
the stream's delay (about a second in AWS; the poll interval locally)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import activity, auto_accept, bulk_history, counts, daily, events, search


@dataclass(frozen=True)
class StreamChange:
    """One stream record, as the projections read it (images as plain Python values)."""

    event: str  # INSERT | MODIFY | REMOVE
    keys: dict[str, Any]
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    sequence: str = ""
    at: str = ""  # when the change was written (the stream record's time, UTC, ISO 8601); "" unknown

    @property
    def kind(self) -> str | None:
        image = self.new if self.new is not None else self.old
        return str(image.get("kind")) if image and image.get("kind") is not None else None


# auto_accept last: the views of the change are kept before a workflow starts from it
PROJECTIONS: list[Callable[[StreamChange], Any]] = [counts.handle, daily.handle, bulk_history.handle, events.handle,
                                                    activity.handle, search.handle, auto_accept.handle]


def apply(change: StreamChange) -> None:
    for projection in PROJECTIONS:
        projection(change)
