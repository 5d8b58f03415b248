"""What one change of an order does, as the services decide it. The data layer's
`order_writes` is the one place that turns it into writes (status, index keys, items, invoice,
credit, lock, attention, history), guarded on the order as it was read; `after` says what the
order is once the change is made (what the attention list is computed from)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from enum import Enum

from .model import (
    AffiliateRef,
    BulkDecision,
    CreditChange,
    DomainRegistration,
    FraudCheck,
    HistoryEntry,
    Invoice,
    Order,
    PendingAction,
)
from .statuses import InvoiceStatus, ItemStatus, OrderStatus, payment_status_of


class _Unchanged(Enum):
    UNCHANGED = "unchanged"


UNCHANGED = _Unchanged.UNCHANGED


@dataclass(frozen=True)
class ItemFields:
    """What a change sets on one item besides its status (what the attention list reads of it):
    a domain's state at its registrar, the item's last error (None clears it). Unset: unchanged."""

    registration: DomainRegistration | None = None
    last_error: str | None | _Unchanged = UNCHANGED


@dataclass
class OrderChange:
    to_status: OrderStatus | None = None
    item_status: ItemStatus | None = None  # every item of the order moves to this
    item_statuses: dict[str, ItemStatus] = field(default_factory=dict)  # these items to these
    item_fields: dict[str, ItemFields] = field(default_factory=dict)  # these items' other fields
    invoice_status: InvoiceStatus | None = None
    # the invoice as it is to be (status, balance, transactions, date paid), written only if it is
    # still at the version it was read at (`Invoice.version`)
    invoice: Invoice | None = None
    credit: list[CreditChange] = field(default_factory=list)  # client credit moved with it
    history: list[HistoryEntry] = field(default_factory=list)
    set_lock: PendingAction | None = None
    clear_lock: bool = False
    affiliate: AffiliateRef | None | _Unchanged = UNCHANGED  # None: the affiliate is removed
    fraud_check: FraudCheck | None = None  # a new screening result
    flagged_for_review: bool | None = None
    bulk: BulkMark | None = None  # a bulk job's decision, recorded with the move (first one stands)
    # time alone changed what the attention list says (a domain waiting too long): no write
    # carries that, so a schedule recomputes it (`services.domain_sync`)
    refresh_attention: bool = False

    @property
    def touches_what_attention_reads(self) -> bool:
        """Status, items, invoice, the end of an action, or time: the attention list is recomputed."""
        return bool(self.to_status or self.item_status or self.item_statuses or self.item_fields
                    or self.invoice_status or self.invoice or self.clear_lock or self.refresh_attention)

    def item_target(self, item_id: str) -> ItemStatus | None:
        return self.item_statuses.get(item_id, self.item_status)

    def after(self, order: Order) -> Order:
        """The order (read with its items and invoice) as this change leaves it."""
        out = copy.deepcopy(order)
        if self.to_status is not None:
            out.status = self.to_status
        for item in out.items:
            target = self.item_target(item.id)
            if target is not None:
                item.status = target
            fields = self.item_fields.get(item.id)
            if fields is not None:
                if fields.registration is not None:
                    item.registration = copy.deepcopy(fields.registration)
                if fields.last_error is not UNCHANGED:
                    item.last_error = fields.last_error
        if self.invoice is not None:
            out.invoice = copy.deepcopy(self.invoice)
        elif self.invoice_status is not None and out.invoice is not None:
            out.invoice.status = self.invoice_status
        if out.invoice is not None:
            out.payment_status = payment_status_of(out.invoice.status)
        if self.set_lock is not None:
            out.pending_action = self.set_lock
        elif self.clear_lock:
            out.pending_action = None
        return out


@dataclass(frozen=True)
class BulkMark:
    """A bulk job's decision on the order, written with the change that carries it out."""

    job_id: str
    decision: BulkDecision
