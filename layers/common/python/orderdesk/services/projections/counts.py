"""The order counts per status, and of orders needing attention, behind GET /order-statuses,
kept from the table's stream.

A stream record of an order record (inserted, changed, removed) moves its count from the status
the counters hold for it to its new status, once: the counters store records, beside the counts,
which version of the order it counted, so a record delivered twice (Lambda retries a failed batch
from its failed record on) or an older one after a newer moves nothing. The counts trail the
orders by the stream's delay (about a second in AWS, the poll interval locally)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ...domain.queries import CountChange, Counted
from ...domain.statuses import OrderStatus
from ...retry import retry_on_conflict
from ..ports import stores

if TYPE_CHECKING:
    from . import StreamChange


@dataclass(frozen=True)
class OrderImage:
    """What the counts read of an order record's stream image."""

    order_id: str
    counted: Counted
    version: int

    @classmethod
    def of(cls, image: dict[str, Any] | None) -> OrderImage | None:
        """The order record image of a stream record (None for another record or no image)."""
        if not image or image.get("kind") != "order" or image.get("sk") != "ORDER":
            return None
        return cls(order_id=str(image["id"]), counted=Counted(OrderStatus(str(image["status"])),
                                                             attention=bool(image.get("attention"))),
                   version=int(image.get("version") or 0))


def handle(change: StreamChange) -> None:
    if change.kind == "order":
        order_changed(OrderImage.of(change.old), OrderImage.of(change.new))


def handle_many(changes: Sequence[StreamChange]) -> None:
    """Count a batch of stream records as `handle` counts each, in fewer writes: one change per
    order (from what its first record had it counted as to its last record's version), counted
    together (`CounterStore.count_many`); the orders it could not count together, one by one."""
    collapsed: dict[str, CountChange] = {}
    for change in changes:
        if change.kind != "order":
            continue
        found = count_change(OrderImage.of(change.old), OrderImage.of(change.new))
        if found is not None:
            first = collapsed.get(found.order_id)
            collapsed[found.order_id] = found if first is None else replace(found, uncounted_was=first.uncounted_was)
    counters = stores().counters
    for left in counters.count_many(list(collapsed.values())):
        retry_on_conflict(functools.partial(counters.count, left.order_id, left.version, left.now,
                                            uncounted_was=left.uncounted_was))


def count_change(before: OrderImage | None, after: OrderImage | None) -> CountChange | None:
    """What one change of an order record counts (None: nothing it is counted by changed)."""
    if after is not None:
        if before is not None and before.counted == after.counted:
            return None
        return CountChange(after.order_id, after.version, after.counted,
                           uncounted_was=before.counted if before is not None else None)
    if before is not None:  # removed: no longer counted anywhere
        return CountChange(before.order_id, before.version + 1, None, uncounted_was=before.counted)
    return None


def order_changed(before: OrderImage | None, after: OrderImage | None) -> bool:
    """Count one change of an order record; True when a count moved."""
    change = count_change(before, after)
    if change is None:
        return False
    counters = stores().counters
    return retry_on_conflict(functools.partial(counters.count, change.order_id, change.version, change.now,
                                               uncounted_was=change.uncounted_was))
