"""Order events on EventBridge, derived from the table's stream: what changed in a record of an
order's partition, read from its images before and after, never from the history's text. So no
write path can forget to publish, and a write retried to no effect publishes nothing.

| detail-type              | when                                                              |
|--------------------------|-------------------------------------------------------------------|
| Order Placed             | an order record is inserted                                       |
| Order Fraud Checked      | the fraud check record is written with another result             |
| Order Accepted           | the order's status becomes Active                                 |
| Order Cancelled          | ... Cancelled (`refund`: by Cancel & Refund)                      |
| Order Set As Fraud       | ... Fraud                                                         |
| Order Back To Pending    | ... Pending again                                                 |
| Order Item Provisioned   | a module created the item's account, or it became Active from     |
|                          | Pending (Registration/Transfer) with no account to track         |
| Order Item Terminated    | a module terminated the item's account, whatever its status; or  |
|                          | an item with no account to track left service                    |
| Order Payment Recorded   | a payment transaction appears on the invoice (amount, gateway)    |
| Order Payment Refunded   | a refund is made (amount, which payment): recorded done by its    |
|                          | gateway, or an owed one confirmed paid back; never while owed     |
| Order Deleted            | the order record is removed                                       |

Every event has `source: orderdesk`, its detail-type, and a `detail` of version 1 whose JSON
Schema is `docs/events/<detail-type in kebab case>.json`. Its `event_id` is derived from the change
(order id, record, order version, item and stream sequence number, or transaction id): a
redelivered stream record yields the same ids, and `published_events` remembers each id the bus
took, so the bus gets each event once. (A process that dies after PutEvents answered and before
its ids were recorded puts them again when the stream retries: consumers drop a repeated
`event_id`. EventBridge has no idempotent put; recording the ids before the put would lose such
events instead.)"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ...adapters.bus import BusEvent, EventsNotPut, put_events
from ...config import get_settings
from ...domain.model import REFUND_DONE, FraudCheck, Invoice, Order, OrderItem, Transaction
from ...domain.money import fmt
from ...domain.statuses import ActionType, ItemStatus, OrderStatus
from ...observability import logger
from ..ports import stores

if TYPE_CHECKING:
    from . import StreamChange

DETAIL_VERSION = 1

PLACED = "Order Placed"
FRAUD_CHECKED = "Order Fraud Checked"
ACCEPTED = "Order Accepted"
CANCELLED = "Order Cancelled"
SET_AS_FRAUD = "Order Set As Fraud"
BACK_TO_PENDING = "Order Back To Pending"
ITEM_PROVISIONED = "Order Item Provisioned"
ITEM_TERMINATED = "Order Item Terminated"
PAYMENT_RECORDED = "Order Payment Recorded"
PAYMENT_REFUNDED = "Order Payment Refunded"
DELETED = "Order Deleted"
DETAIL_TYPES = (PLACED, FRAUD_CHECKED, ACCEPTED, CANCELLED, SET_AS_FRAUD, BACK_TO_PENDING, ITEM_PROVISIONED,
                ITEM_TERMINATED, PAYMENT_RECORDED, PAYMENT_REFUNDED, DELETED)

_STATUS_EVENTS = {OrderStatus.ACTIVE: ACCEPTED, OrderStatus.CANCELLED: CANCELLED, OrderStatus.FRAUD: SET_AS_FRAUD,
                  OrderStatus.PENDING: BACK_TO_PENDING}
_NOT_YET_PROVISIONED = frozenset({ItemStatus.PENDING, ItemStatus.PENDING_REGISTRATION, ItemStatus.PENDING_TRANSFER})
_IN_SERVICE = frozenset({ItemStatus.ACTIVE, ItemStatus.SUSPENDED})
_ENDED = frozenset({ItemStatus.CANCELLED, ItemStatus.FRAUD, ItemStatus.TERMINATED})


def schema_name(detail_type: str) -> str:
    """The file of its schema in docs/events/: "Order Item Provisioned" → order-item-provisioned."""
    return detail_type.lower().replace(" ", "-")


def handle(change: StreamChange) -> None:
    bus = get_settings().event_bus_name
    if not bus:
        return  # publishing is off (tests that do not look at events); the template always sets it
    found = events_of(change)
    if found:
        publish(bus, found)


def publish(bus: str, events: list[BusEvent]) -> None:
    """Put the events the bus has not taken yet, then remember them as taken."""
    marks = stores().published_events
    done = marks.published([e.id for e in events])
    todo = [e for e in events if e.id not in done]
    if not todo:
        return
    try:
        put_events(bus, todo)
    except EventsNotPut as exc:
        marks.mark_published([(e.id, e.detail_type) for e in todo if e.id in exc.taken])
        raise  # the stream retries the record: what was taken is not put again
    twice = marks.mark_published([(e.id, e.detail_type) for e in todo])
    if twice:
        logger.warning("order events put twice (two deliveries at once)", extra={"event_ids": twice})


# -- what a change says --------------------------------------------------------------------------


def events_of(change: StreamChange) -> list[BusEvent]:
    """The events one stream record of an order's partition stands for, in the order they happened."""
    read, seq = stores().images, change.sequence
    kind = change.kind
    if kind == "order":
        return _order_events(read.order(change.old), read.order(change.new), seq)
    if kind == "invoice":
        return _invoice_events(read.invoice(change.old), read.invoice(change.new), seq)
    order_id = read.order_id(change.keys)
    if order_id is None:
        return []
    if kind == "item":
        return _item_events(read.item(change.old), read.item(change.new), seq, order_id)
    if kind == "fraud_check":
        return _fraud_events(read.fraud_check(change.old), read.fraud_check(change.new), seq, order_id)
    return []  # history, actions, notes: what they record shows in the records above


def _order_events(before: Order | None, after: Order | None, seq: str) -> list[BusEvent]:
    if before is None and after is not None:
        return [_event(PLACED, f"{after.id}:placed", after.id, seq, {
            "order_number": after.number, "placed_at": after.placed_at, "status": after.status.value,
            "client_id": after.client.id, "total": fmt(after.total), "currency": after.currency,
            "payment_method": after.payment_method, "promo_code": after.promo_code,
            "affiliate_id": after.affiliate.id if after.affiliate else None})]
    if before is not None and after is None:
        return [_event(DELETED, f"{before.id}:deleted", before.id, seq, {
            "order_number": before.number, "status": before.status.value})]
    if before is None or after is None or before.status is after.status:
        return []
    detail_type = _STATUS_EVENTS[after.status]
    # the action that made the change held the order's lock until this very write (a bulk change
    # or Back to Pending holds none)
    lock = before.pending_action
    detail: dict[str, Any] = {
        "order_number": after.number, "from_status": before.status.value, "to_status": after.status.value,
        "order_version": after.version,
        "action": {"id": lock.action_id, "type": lock.type} if lock is not None else None}
    if detail_type == CANCELLED:
        detail["refund"] = lock is not None and lock.type == ActionType.CANCEL_REFUND.value
    slug = schema_name(detail_type).removeprefix("order-")
    return [_event(detail_type, f"{after.id}:v{after.version}:{slug}", after.id, seq, detail)]


def _item_events(before: OrderItem | None, after: OrderItem | None, seq: str,
                 order_id: str) -> list[BusEvent]:
    if before is None or after is None:
        return []
    if after.account.exists and not before.account.exists:  # a module created its account
        detail_type = ITEM_PROVISIONED
    elif before.account.exists and not after.account.exists:  # a module terminated it
        detail_type = ITEM_TERMINATED
    elif before.status is after.status or before.account.exists or after.account.exists:
        return []
    elif after.status is ItemStatus.ACTIVE and before.status in _NOT_YET_PROVISIONED:
        detail_type = ITEM_PROVISIONED  # a domain registered, an item provisioned by hand
    elif before.status in _IN_SERVICE and after.status in _ENDED:
        detail_type = ITEM_TERMINATED  # a domain or hand-provisioned item out of service
    else:
        return []
    slug = schema_name(detail_type).removeprefix("order-item-")
    return [_event(detail_type, f"{order_id}:item:{after.id}:{seq}:{slug}", order_id, seq, {
        "item": {"id": after.id, "kind": after.kind.value, "description": after.description,
                 "billing_cycle": after.billing_cycle, "amount": fmt(after.amount), "domain": after.domain,
                 "server_id": after.server_id, "username": after.username},
        "from_status": before.status.value, "to_status": after.status.value})]


def _invoice_events(before: Invoice | None, after: Invoice | None, seq: str) -> list[BusEvent]:
    if after is None:
        return []
    known = {t.id: t for t in before.transactions} if before is not None else {}
    out = []
    for txn in after.transactions:
        old = known.get(txn.id)
        if txn.type == "refund":
            # a refund is news when it is made: an owed one (no refund API) only once a person
            # confirms paying it back, so no event says a refund was made that was not
            if txn.state != REFUND_DONE or (old is not None and old.state == REFUND_DONE):
                continue
        elif old is not None:
            continue
        detail: dict[str, Any] = {
            "invoice_id": after.id, "client_id": after.client_id, "currency": after.currency,
            "invoice_status": after.status.value, "balance": fmt(after.balance)}
        if txn.type == "payment":
            detail["payment"] = _transaction(txn)
            out.append(_event(PAYMENT_RECORDED, f"{after.order_id}:payment:{txn.id}", after.order_id, seq, detail))
        elif txn.type == "refund":
            detail["refund"] = {**_transaction(txn), "refund_of": txn.refund_of}
            out.append(_event(PAYMENT_REFUNDED, f"{after.order_id}:refund:{txn.id}", after.order_id, seq, detail))
    return out


def _fraud_events(before: FraudCheck | None, after: FraudCheck | None, seq: str, order_id: str) -> list[BusEvent]:
    if after is None or after == before:
        return []
    return [_event(FRAUD_CHECKED, f"{order_id}:fraud:{seq}", order_id, seq, {
        "provider": after.provider, "score": after.score, "decision": after.decision,
        "checked_at": after.checked_at, "triggered": [s.name for s in after.signals if s.triggered]})]


def _transaction(txn: Transaction) -> dict[str, Any]:
    return {"id": txn.id, "gateway": txn.gateway, "transaction_id": txn.transaction_id, "amount": fmt(txn.amount),
            "at": txn.at}


def _event(detail_type: str, event_id: str, order_id: str, seq: str, fields: dict[str, Any]) -> BusEvent:
    detail = {"version": DETAIL_VERSION, "event_id": event_id, "order_id": order_id, "sequence": seq, **fields}
    return BusEvent(id=event_id, detail_type=detail_type, detail=_plain(detail))


def _plain(value: Any) -> Any:
    """JSON as the schemas say it: money is formatted already; other numbers are whole."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value)
    return value
