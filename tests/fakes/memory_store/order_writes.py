"""Changes of an order in memory (`OrderWriteStore`), with the semantics of
`adapters.store.order_writes`: a change is guarded on the order as read (its status and version
and, unless the change belongs to the action holding it, no lock), each item moves from the
status it was read in, the invoice from the version (or, for a status alone, the status) it was
read at, credit only to a client that exists (a taking only while the balance covers it), a
payment only with a transaction id its gateway has not recorded (`credit`); a change of the
status, items or invoice, or the end of an action (or time alone: `refresh_attention`),
recomputes the order's attention list from the order as the change leaves it; an item's other
fields (`item_fields`) move from its status as read;
the order record's version is bumped whenever the record is written. `attention_after`,
`change_holds` and `write_change` are the one write path here too: `actions` ends an action
through them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from orderdesk.domain.attention import attention_of
from orderdesk.domain.changes import UNCHANGED, OrderChange
from orderdesk.domain.errors import ConcurrentUpdate
from orderdesk.domain.model import Attention, BulkDecision, BulkOrderState, HistoryEntry, Order, utcnow
from orderdesk.domain.statuses import ItemStatus, OrderStatus, payment_status_of

from .credit import money_refusal, write_money
from .state import MemoryState, Partition, clone

BULK_ACTION = "bulk status change"


@dataclass(frozen=True)
class AttentionAfter:
    attention: list[Attention]
    status_moves_it: bool  # another status would give another list


def attention_after(s: MemoryState, order: Order, change: OrderChange, holder: str | None) -> AttentionAfter | None:
    """The attention list `change` leaves on `order`, when it recomputes it (None: it does not:
    while an action holds the order its state is in flux, and the action's end recomputes it).
    ValueError for an order not read whole, before anything is checked or written."""
    if not (change.touches_what_attention_reads and (holder is None or change.clear_lock)):
        return None
    if not order.detail_loaded:
        raise ValueError(f"order {order.id}: a change of its status, items or invoice needs it read whole")
    after, now = change.after(order), utcnow()
    attention = attention_of(after, now, s.domain_wait_hours)
    moves = any(attention_of(replace(after, status=status), now, s.domain_wait_hours) != attention
                for status in OrderStatus if status is not after.status)
    return AttentionAfter(attention, moves)


def change_holds(s: MemoryState, p: Partition | None, order: Order, change: OrderChange, holder: str | None) -> bool:
    """Whether every condition of `change` to `order` (as read) holds on what is stored."""
    current = p.header if p is not None else None
    if p is None or current is None or current.status is not order.status or current.version != order.version:
        return False
    if holder is None and current.pending_action is not None:
        return False
    for item in order.items:
        target = change.item_target(item.id)
        if (target is not None and target is not item.status) or item.id in change.item_fields:
            stored = p.items.get(item.id)
            if stored is None or stored.status is not item.status:
                return False
    if change.invoice is not None:
        invoice_holds = p.invoice is not None and p.invoice_version == change.invoice.version
    elif change.invoice_status is not None and order.invoice is not None:
        invoice_holds = p.invoice is not None and p.invoice.status is order.invoice.status
    else:
        invoice_holds = True
    bulk_holds = change.bulk is None or change.bulk.job_id not in p.decisions  # the first decision stands
    return invoice_holds and bulk_holds and all(credit.client_id in s.clients for credit in change.credit)


def write_change(s: MemoryState, p: Partition, order: Order, change: OrderChange,
                 attention: AttentionAfter | None) -> None:
    """Write a change whose conditions hold (`change_holds`), with the attention list it leaves
    (`attention_after`)."""
    current = p.header
    assert current is not None
    record_written = False
    if change.to_status is not None and change.to_status is not order.status:
        current.status, record_written = change.to_status, True
    invoice_status = change.invoice.status if change.invoice is not None else change.invoice_status
    if invoice_status is not None:
        current.payment_status, record_written = payment_status_of(invoice_status), True
    if change.set_lock is not None:
        current.pending_action, record_written = clone(change.set_lock), True
    elif change.clear_lock:
        current.pending_action, record_written = None, True
    if change.affiliate is not UNCHANGED:
        current.affiliate, record_written = clone(change.affiliate), True
    if change.flagged_for_review is not None:
        current.flagged_for_review, record_written = change.flagged_for_review, True
    if attention is not None:
        current.attention, record_written = clone(attention.attention), True
        p.status_moves_attention = attention.status_moves_it
    if change.bulk is not None:
        p.decisions[change.bulk.job_id] = as_recorded(change.bulk.decision, from_=order.status.value)
        record_written = True
    if record_written:
        current.version += 1
    for item in order.items:
        target = change.item_target(item.id)
        if target is not None and target is not item.status:
            p.items[item.id].status = target
        fields = change.item_fields.get(item.id)
        if fields is not None:
            if fields.registration is not None:
                p.items[item.id].registration = clone(fields.registration)
            if fields.last_error is not UNCHANGED:
                p.items[item.id].last_error = fields.last_error
    if change.invoice is not None and p.invoice is not None:
        stored, wanted = p.invoice, change.invoice  # only what a change of an invoice writes
        stored.status, stored.balance = wanted.status, wanted.balance
        stored.transactions, stored.date_paid = clone(wanted.transactions), wanted.date_paid
        p.invoice_version += 1
    elif change.invoice_status is not None and order.invoice is not None and p.invoice is not None:
        p.invoice.status = change.invoice_status
        p.invoice_version += 1
    write_money(s, change)  # the guards of new payments, the credit ledger with the balance
    if change.fraud_check is not None:
        p.fraud = clone(change.fraud_check)
    for seq, entry in enumerate(change.history):
        s.add_history(order.id, entry, seq)


def as_recorded(d: BulkDecision, *, from_: str | None) -> BulkDecision:
    """A bulk job's decision as it reads back: a move (to) or a refusal (why), never both."""
    moved = d.to is not None and d.error is None
    return BulkDecision(at=d.at, actor=d.actor, from_=from_, to=d.to if moved else None,
                        error=None if moved else d.error or "refused", written_ns=d.written_ns)


def set_item_fields(p: Partition, item_id: str, fields: dict[str, Any]) -> None:
    """Item fields as the item record has them (None removes one); `password_enc` is kept apart."""
    item = p.items[item_id]
    for name, value in fields.items():
        if name == "password_enc":
            if value is None:
                p.passwords.pop(item_id, None)
            else:
                p.passwords[item_id] = value
        elif name == "status":
            item.status = ItemStatus(value)
        elif name == "account_exists":
            p.accounts[item_id] = value
        elif name == "commands":
            item.commands = clone(value) if value is not None else {}
        elif name in ("payment_status", "has_password", "account") or not hasattr(item, name):
            raise AttributeError(f"an item record has no field {name}")
        else:
            setattr(item, name, clone(value))


class MemoryOrderWrites:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    def apply(self, order: Order, change: OrderChange, *, holder: str | None = None) -> None:
        with self.s.lock:
            attention = attention_after(self.s, order, change, holder)
            p = self.s.partition(order.id)
            money = money_refusal(self.s, change)  # a transaction id taken, credit short: said first
            if money is not None:
                raise money
            if p is None or not change_holds(self.s, p, order, change, holder):
                self.s.refused(order.id, holder)
            write_change(self.s, p, order, change, attention)

    # -- items and history ----------------------------------------------------------------------

    def change_item(self, order_id: str, item_id: str, *, expect_status: ItemStatus, fields: dict[str, Any],
                    history: HistoryEntry | None = None, action_id: str | None = None) -> None:
        with self.s.lock:
            p = self.s.partition(order_id)
            stored = p.items.get(item_id) if p is not None else None
            holds = stored is not None and stored.status is expect_status
            if action_id is not None:
                lock = p.header.pending_action if p is not None and p.header is not None else None
                holds = holds and lock is not None and lock.action_id == action_id
            if p is None or not holds:
                raise ConcurrentUpdate(f"item {item_id} or its order changed meanwhile")
            set_item_fields(p, item_id, fields)
            if history is not None:
                self.s.add_history(order_id, history)

    def update_item(self, order_id: str, item_id: str, *, expect_status: ItemStatus | None = None,
                    **fields: Any) -> None:
        with self.s.lock:
            p = self.s.partition(order_id)
            stored = p.items.get(item_id) if p is not None else None
            if p is None or stored is None or (expect_status is not None and stored.status is not expect_status):
                raise ConcurrentUpdate(f"item {item_id} changed meanwhile")
            set_item_fields(p, item_id, fields)

    def add_history(self, order_id: str, entry: HistoryEntry) -> None:
        with self.s.lock:
            self.s.add_history(order_id, entry)

    # -- bulk status changes ----------------------------------------------------------------------

    def bulk_move(self, job_id: str, order_id: str, decision: BulkDecision,
                  allowed: frozenset[OrderStatus]) -> BulkDecision | BulkOrderState | None:
        """Moved (the decision recorded, with the status it left), or the order as found (this
        job's decision on it, when there is one), or None for an unknown order."""
        assert decision.to is not None
        with self.s.lock:
            p = self.s.partition(order_id)
            current = p.header if p is not None else None
            if p is None or current is None:
                return None
            if (current.status in allowed and current.pending_action is None and job_id not in p.decisions
                    and not p.status_moves_attention):  # that order moves through the one write path
                moved = replace(decision, from_=current.status.value, written_ns=self.s.write_time())
                p.decisions[job_id] = as_recorded(moved, from_=moved.from_)
                current.status = OrderStatus(decision.to)
                current.version += 1
                return moved
            return BulkOrderState(status=current.status, locked=current.pending_action is not None,
                                  decision=clone(p.decisions.get(job_id)), moves_attention=p.status_moves_attention)

    def bulk_refuse(self, job_id: str, order_id: str, decision: BulkDecision) -> BulkDecision | None:
        with self.s.lock:
            p = self.s.partition(order_id)
            if p is None or p.header is None:
                return None
            if job_id in p.decisions:
                return clone(p.decisions[job_id])
            p.decisions[job_id] = as_recorded(replace(decision, to=None, written_ns=self.s.write_time()), from_=None)
            return decision

    def bulk_history(self, moves: Iterable[tuple[str, str, BulkDecision]]) -> None:
        """Each under the key its decision recorded: written again, they change nothing."""
        with self.s.lock:
            for job_id, order_id, d in moves:
                entry = HistoryEntry(at=d.at, actor=d.actor, action=BULK_ACTION, from_=d.from_, to=d.to,
                                     detail=f"bulk job {job_id}")
                self.s.partition_for_write(order_id).history[(d.at, d.written_ns, "bulk")] = entry
