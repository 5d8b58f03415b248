"""What one change of an order does, as the services decide it. The data layer's
`order_writes` is the one place that turns it into writes (status, index keys, items, invoice,
lock, history), guarded on the order as it was read."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from .model import AffiliateRef, FraudCheck, HistoryEntry, PendingAction
from .statuses import InvoiceStatus, ItemStatus, OrderStatus


class _Unchanged(Enum):
    UNCHANGED = "unchanged"


UNCHANGED = _Unchanged.UNCHANGED


@dataclass
class OrderChange:
    to_status: OrderStatus | None = None
    item_status: ItemStatus | None = None  # every item of the order moves to this
    invoice_status: InvoiceStatus | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    set_lock: PendingAction | None = None
    clear_lock: bool = False
    affiliate: AffiliateRef | None | _Unchanged = UNCHANGED  # None: the affiliate is removed
    fraud_check: FraudCheck | None = None  # a new screening result
    flagged_for_review: bool | None = None


@dataclass(frozen=True)
class StatusMove:
    """One order moved by a bulk job: the decision a job records on the order, with the move."""

    order_id: str
    at: str
    actor: str
    from_: str
    to: str
    written_ns: int
