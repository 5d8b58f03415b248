"""Views kept up to date by the table's stream rather than by the write paths.

`functions/order_stream` hands each batch of stream records of orders' partitions (the order, its
items, invoice, history, actions, notes, search document), of clients and their credit ledgers to
`apply_many`, which gives the whole batch to each projection of `PROJECTIONS` in turn; when that
fails, it hands the records one by one to `apply` (each to every projection), so a record that
fails alone is retried from the stream from there on. A projection is a module with
`handle(change)`, and `handle_many(changes)` where taking a batch at once saves reads and writes
(the same effect as `handle` of each in order); it reads what it needs from the changes' images
and must be idempotent on its own: a batch may be applied in part and then again record by
record, a failed record is retried from the stream with every projection run again, and a record
may be delivered twice. What they keep trails the writes by
the stream's delay (about a second in AWS; the poll interval locally)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


Handle = Callable[[StreamChange], Any]
HandleMany = Callable[[Sequence[StreamChange]], Any]


def _each(handle: Handle) -> HandleMany:
    def handle_many(changes: Sequence[StreamChange]) -> None:
        for change in changes:
            handle(change)

    return handle_many


# auto_accept last: the views of the changes are kept before a workflow starts from them
PROJECTIONS: list[tuple[Handle, HandleMany]] = [
    (counts.handle, counts.handle_many), (daily.handle, daily.handle_many),
    (bulk_history.handle, bulk_history.handle_many), (events.handle, _each(events.handle)),
    (activity.handle, activity.handle_many), (search.handle, search.handle_many),
    (auto_accept.handle, _each(auto_accept.handle))]


def apply(change: StreamChange) -> None:
    """One stream record, to every projection in turn."""
    for handle, _ in PROJECTIONS:
        handle(change)


def apply_many(changes: Sequence[StreamChange]) -> None:
    """A batch of stream records (in stream order), to every projection in turn."""
    for _, handle_many in PROJECTIONS:
        handle_many(changes)
