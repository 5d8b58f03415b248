"""The order counts per status, and of orders needing attention, behind GET /order-statuses,
kept from the table's stream.

A stream record of an order record (inserted, changed, removed) moves its count from the status
the counters hold for it to its new status, once: the counters store records, beside the counts,
which version of the order it counted, so a record delivered twice (Lambda retries a failed batch
from its failed record on) or an older one after a newer moves nothing. The counts trail the
orders by the stream's delay (about a second in AWS, the poll interval locally)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...domain.queries import Counted
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


def order_changed(before: OrderImage | None, after: OrderImage | None) -> bool:
    """Count one change of an order record; True when a count moved."""
    counters = stores().counters
    if after is not None:
        if before is not None and before.counted == after.counted:
            return False  # nothing it is counted by changed: nothing to count, nothing to read
        was = before.counted if before is not None else None
        return retry_on_conflict(lambda: counters.count(after.order_id, after.version, after.counted,
                                                        uncounted_was=was))
    if before is not None:  # removed: no longer counted anywhere
        return retry_on_conflict(lambda: counters.count(before.order_id, before.version + 1, None,
                                                        uncounted_was=before.counted))
    return False
