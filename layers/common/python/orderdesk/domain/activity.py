"""The activity log (SPEC §7 "Audit"): one entry per change of an order, its items, invoice,
payments, refunds, a client's credit, and one per deleted order, newest first, kept
`AUDIT_RETENTION_DAYS` after the change.

Entries are derived, not written by the paths that change things: every history entry of an
order becomes one (`from_history`), every entry of a client's credit ledger one (`from_credit`),
and the delete of an order writes its own (`deletion_of`), with what the order carried in money,
since the order's history goes with it. Standard library only."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from .model import ClientRef, HistoryEntry, Order, Transaction
from .money import ZERO, fmt


class ActivityType(StrEnum):
    ORDER = "order"  # placed, an action started, done or failed, a status change, affiliate, email
    ITEM = "item"  # an item provisioned, terminated, moved; a module command
    INVOICE = "invoice"  # the invoice cancelled, refunded, re-opened
    PAYMENT = "payment"
    REFUND = "refund"  # a payment refunded (done or owed), an owed refund confirmed
    CREDIT = "credit"  # an entry of a client's credit ledger
    NOTE = "note"
    FRAUD = "fraud"  # a fraud check's result (setting an order as Fraud is an order action)
    DELETION = "deletion"  # the order is gone: what it was and the money it carried


# history actions by name; what is not here goes by its first word (`_BY_FIRST_WORD`), then ORDER
_BY_ACTION = {
    "note added": ActivityType.NOTE,
    "fraud check": ActivityType.FRAUD,
    "payment recorded": ActivityType.PAYMENT,
    "payment refunded": ActivityType.REFUND,
}
_BY_FIRST_WORD = {
    "item": ActivityType.ITEM,  # item provisioned/terminated, item <command>, item command started/done/failed
    "items": ActivityType.ITEM,  # items updated, items set back to pending
    "domain": ActivityType.ITEM,  # domain activated, domain sent to registrar
    "invoice": ActivityType.INVOICE,
    "payment": ActivityType.PAYMENT,
    "refund": ActivityType.REFUND,  # refund owed, refund confirmed
    "credit": ActivityType.CREDIT,
}


def type_of(action: str) -> ActivityType:
    """The type of a history entry, from its action's name."""
    name = action.strip().lower()
    found = _BY_ACTION.get(name)
    if found is not None:
        return found
    return _BY_FIRST_WORD.get(name.split(" ", 1)[0], ActivityType.ORDER)


class Source(NamedTuple):
    """The record an entry is derived from: its key (unique) and its write time."""

    key: str
    written_ns: int


@dataclass(frozen=True)
class OrderRef:
    """What an entry says of its order besides its id (read once per order: they never change)."""

    number: str
    client_id: str
    currency: str | None = None


@dataclass
class DeletedOrder:
    """What a deletion entry keeps of the order: the SPEC's number, client, total and every
    payment and refund it carried (gateway, transaction id, amount)."""

    number: str
    status: str
    placed_at: str
    client: ClientRef
    total: Decimal
    currency: str
    invoice_id: str | None
    payments: list[Transaction] = field(default_factory=list)
    refunds: list[Transaction] = field(default_factory=list)


@dataclass
class ActivityEntry:
    at: str
    actor: str
    type: ActivityType
    action: str
    # what the entry was derived from, unique among entries (a history record's key, a ledger
    # entry's, the deleted order's id): the same source always makes the same entry, once
    source: str
    written_ns: int  # the source's write time: entries of one second keep their order
    keep_until: datetime  # then it expires (the table's TTL)
    order_id: str | None = None
    order_number: str | None = None
    client_id: str | None = None
    detail: str | None = None
    from_: str | None = None
    to: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    deleted_order: DeletedOrder | None = None

    @property
    def id(self) -> str:
        """Short, stable and unique (a list's row key): a digest of where the entry is."""
        return hashlib.blake2b(f"{self.at}#{self.written_ns}#{self.source}".encode(), digest_size=8).hexdigest()


@dataclass
class ActivityFilter:
    from_: str | None = None  # inclusive bounds of `at` (normalised timestamps)
    to: str | None = None
    actor: str | None = None
    order_number: str | None = None
    type: ActivityType | None = None


@dataclass
class ActivityPage:
    entries: list[ActivityEntry]
    last_position: str | None  # where the next page starts (exclusive); None: nothing more


def keep_until(at: str, retention_days: int) -> datetime:
    """When an entry made at `at` expires."""
    return _parse(at) + timedelta(days=retention_days)


def from_history(order_id: str, entry: HistoryEntry, source: Source, *, ref: OrderRef | None,
                 retention_days: int) -> ActivityEntry:
    return ActivityEntry(
        at=entry.at, actor=entry.actor, type=type_of(entry.action), action=entry.action, source=source.key,
        written_ns=source.written_ns, keep_until=keep_until(entry.at, retention_days), order_id=order_id,
        order_number=ref.number if ref else None, client_id=ref.client_id if ref else None, detail=entry.detail,
        from_=entry.from_, to=entry.to, amount=entry.amount,
        currency=entry.currency or (ref.currency if ref and entry.amount is not None else None))


@dataclass(frozen=True)
class CreditMove:
    """An entry of a client's credit ledger as the activity log reads it."""

    client_id: str
    at: str
    amount: Decimal  # positive: added to the balance
    reason: str
    ref: str | None = None  # the invoice of a credit payment or refund
    actor: str | None = None


def from_credit(move: CreditMove, source: Source, *, order_id: str | None, ref: OrderRef | None,
                retention_days: int) -> ActivityEntry:
    return ActivityEntry(
        at=move.at, actor=move.actor or "system", type=ActivityType.CREDIT,
        action="credit added" if move.amount >= ZERO else "credit used", source=source.key,
        written_ns=source.written_ns,
        keep_until=keep_until(move.at, retention_days), order_id=order_id,
        order_number=ref.number if ref else None, client_id=move.client_id, detail=move.reason,
        amount=move.amount, currency=ref.currency if ref else None)


def deletion_of(order: Order, *, actor: str, at: str, written_ns: int, retention_days: int) -> ActivityEntry:
    """The entry a delete leaves, from the order read whole (its invoice's transactions)."""
    txns = order.invoice.transactions if order.invoice is not None else []
    payments = [t for t in txns if t.type == "payment"]
    refunds = [t for t in txns if t.type == "refund"]
    gone = DeletedOrder(number=order.number, status=order.status.value, placed_at=order.placed_at,
                        client=order.client, total=order.total, currency=order.currency,
                        invoice_id=order.invoice.id if order.invoice is not None else None,
                        payments=payments, refunds=refunds)
    return ActivityEntry(
        at=at, actor=actor, type=ActivityType.DELETION, action="order deleted", source=deletion_source(order.id),
        written_ns=written_ns, keep_until=keep_until(at, retention_days), order_id=order.id,
        order_number=order.number, client_id=order.client.id, detail=deletion_text(gone), from_=gone.status,
        amount=order.total, currency=order.currency, deleted_order=gone)


def deletion_source(order_id: str) -> str:
    return f"{order_id}#deleted"  # an order is deleted once


def deletion_text(gone: DeletedOrder) -> str:
    def money(t: Transaction) -> str:
        return f"{fmt(t.amount)} {gone.currency} via {t.gateway} ({t.transaction_id})"

    parts = [f"order {gone.number} of {gone.client.name or gone.client.id}, {gone.status}, "
             f"total {fmt(gone.total)} {gone.currency}"]
    if gone.payments:
        parts.append("payments: " + ", ".join(money(t) for t in gone.payments))
    if gone.refunds:
        parts.append("refunds: " + ", ".join(money(t) for t in gone.refunds))
    return "; ".join(parts)[:2000]


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))
