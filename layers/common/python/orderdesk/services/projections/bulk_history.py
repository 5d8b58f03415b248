"""The history entry of each bulk move, kept from the table's stream.

A bulk status change is one conditional UpdateItem per order (as cheap as a bare status write),
which records the job's decision on the order with the move (`order_writes.bulk_move`). The move's
history entry follows here, from that decision as the stream shows it, under a key the decision
recorded (its write time): written again by a redelivered stream record, it changes nothing. The
entry trails the move by the stream's delay."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..ports import stores

if TYPE_CHECKING:
    from ...domain.model import BulkDecision
    from . import StreamChange


def handle(change: StreamChange) -> None:
    handle_many([change])


def handle_many(changes: Sequence[StreamChange]) -> None:
    """The entries of every bulk move a batch of stream records shows, written together."""
    images = stores().images
    entries: list[tuple[str, str, BulkDecision]] = []
    for change in changes:
        if change.kind != "order" or change.new is None:
            continue
        before = images.bulk_moves(change.old)
        order_id = images.order_id(change.keys)
        if order_id:
            entries += [(job_id, order_id, d) for job_id, d in images.bulk_moves(change.new).items()
                        if before.get(job_id) != d]
    if entries:
        stores().writes.bulk_history(entries)
