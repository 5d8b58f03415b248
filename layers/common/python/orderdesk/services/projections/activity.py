"""The activity log, kept from the table's stream: every history record put in an order's
partition becomes an entry, and so does every entry of a client's credit ledger; no write path
writes the log itself (but a delete, whose entry must hold what the order's own records no
longer do: `services.activity.deletion_entry`).

Which type each history entry is: `domain.activity.type_of`. An entry's key is derived from the
record's (order and history key, or client and ledger key) and put only when absent, so a record
delivered twice, or the whole stream read again, writes each entry once. Its order's number and
client are read from the order once per order and process (they never change): from the order
record, or, when the order is gone by the time the stream gets there, from what its delete kept."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from threading import Lock
from typing import TYPE_CHECKING

from ...config import get_settings
from ...domain.activity import ActivityEntry, OrderRef, from_credit, from_history
from ...domain.model import order_id_of_invoice
from ..ports import stores

if TYPE_CHECKING:
    from . import StreamChange

_REFS_KEPT = 4096  # orders whose number and client this process remembers
_refs: OrderedDict[str, OrderRef] = OrderedDict()
_refs_lock = Lock()


def handle(change: StreamChange) -> None:
    entry = entry_of(change)
    if entry is not None:
        stores().activity.add(entry)


def handle_many(changes: Sequence[StreamChange]) -> None:
    """Put a batch of stream records' entries as `handle` puts each, in fewer writes
    (`ActivityStore.add_many`), with the numbers of the batch's orders taken from their own
    records; the entries it could not put together, one by one."""
    read = stores().images
    for change in changes:
        if change.kind == "order" and change.new is not None and (order := read.order(change.new)) is not None:
            _remember(order.id, OrderRef(number=order.number, client_id=order.client.id, currency=order.currency))
    entries = [entry for change in changes if (entry := entry_of(change)) is not None]
    activity = stores().activity
    for entry in activity.add_many(entries):
        activity.add(entry)


def entry_of(change: StreamChange) -> ActivityEntry | None:
    """The entry a stream record stands for: a history record or a credit ledger entry put."""
    if change.event != "INSERT" or change.new is None:
        return None  # an entry stands for a record put; its removal (a delete, the TTL) is no change
    kind = change.kind
    if kind == "history":
        return history_entry(change)
    if kind == "credit_entry":
        return credit_entry(change)
    return None


def history_entry(change: StreamChange) -> ActivityEntry | None:
    found = stores().images.history(change.keys, change.new)
    if found is None:
        return None
    order_id, entry, source = found
    return from_history(order_id, entry, source, ref=order_ref(order_id),
                        retention_days=get_settings().audit_retention_days)


def credit_entry(change: StreamChange) -> ActivityEntry | None:
    found = stores().images.credit_move(change.keys, change.new)
    if found is None:
        return None
    move, source = found
    order_id = order_id_of_invoice(move.ref) if move.ref else None
    ref = order_ref(order_id) if order_id else None
    return from_credit(move, source, order_id=order_id, ref=ref, retention_days=get_settings().audit_retention_days)


def order_ref(order_id: str) -> OrderRef | None:
    with _refs_lock:
        ref = _refs.get(order_id)
        if ref is not None:
            _refs.move_to_end(order_id)
            return ref
    ref = stores().activity.order_ref(order_id)
    if ref is not None:  # an order not found is not remembered: it may be found later
        _remember(order_id, ref)
    return ref


def _remember(order_id: str, ref: OrderRef) -> None:
    with _refs_lock:
        _refs[order_id] = ref
        _refs.move_to_end(order_id)
        while len(_refs) > _REFS_KEPT:
            _refs.popitem(last=False)


def forget_orders() -> None:
    """Drop the remembered numbers (tests measuring the reads)."""
    with _refs_lock:
        _refs.clear()
