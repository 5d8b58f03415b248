"""The daily statistics behind GET /stats/daily, kept from the table's stream: each happening of
an order counted once on its day (UTC), so a range of days is read as one item per day, never
the orders.

| counter          | what                                                    | its day                  |
|------------------|---------------------------------------------------------|--------------------------|
| `placed`         | an order record is inserted                             | the order's `placed_at`  |
| `accepted`       | the order's status becomes Active                       | when it was written (*)  |
| `cancelled`      | ... Cancelled                                           | (*)                      |
| `fraud`          | ... Fraud                                               | (*)                      |
| `payments`       | a payment appears on the invoice (count, sum/currency)  | the payment's `at`       |
| `refunds`        | a refund is done (new, or an owed one confirmed)        | the refund's `at`        |
| `failed_actions` | an action ends FAILED                                   | its `finished_at`        |
| fraud checks     | a screening result is written (by decision)             | its `checked_at`         |

(*) the stream record's time: a status change carries no time of its own. An order inserted
already past Pending (an import, the demo data) counts that status on its placing day too.

Happenings are recognised from the records' images before and after, as `events` does, and named
as its events are (order and version, transaction id, action id, stream sequence number): a
record delivered again names the same happenings, and the store counts each name once
(`daily_stats.count`: a marker written in the count's transaction). Deleting an order takes
nothing back: the days say what happened on them. Each happening counted is also a business
metric (`orderdesk.metrics`), added there and only there, so once too."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ... import metrics
from ...domain.model import Action, FraudCheck, Invoice, Order, iso, utcnow
from ...domain.stats import (
    ACCEPTED,
    CANCELLED,
    FAILED_ACTIONS,
    FRAUD,
    PAYMENTS,
    PLACED,
    REFUNDS,
    DailyEvent,
    currency_code,
)
from ...domain.statuses import ActionStatus, OrderStatus
from ...retry import retry_on_conflict
from ..ports import stores

if TYPE_CHECKING:
    from . import StreamChange

FRAUD_CHECK = "fraud_check"
_STATUS_COUNTERS = {OrderStatus.ACTIVE: ACCEPTED, OrderStatus.CANCELLED: CANCELLED, OrderStatus.FRAUD: FRAUD}
_METRIC = {PLACED: metrics.ORDERS_PLACED, ACCEPTED: metrics.ORDERS_ACCEPTED, CANCELLED: metrics.ORDERS_CANCELLED,
           FRAUD: metrics.ORDERS_SET_AS_FRAUD, FAILED_ACTIONS: metrics.FAILED_ACTIONS}
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")


def handle(change: StreamChange) -> None:
    days = stores().daily_stats
    for event in events_of(change):
        if retry_on_conflict(functools.partial(days.count, event)):
            measure(event)


def handle_many(changes: Sequence[StreamChange]) -> None:
    """Count a batch of stream records' happenings as `handle` counts each, in fewer writes
    (`DailyStatsStore.count_many`); those it could not count together, one by one."""
    days = stores().daily_stats
    counted, left = days.count_many([event for change in changes for event in events_of(change)])
    for event in counted:
        measure(event)
    for event in left:
        if retry_on_conflict(functools.partial(days.count, event)):
            measure(event)


def measure(event: DailyEvent) -> None:
    """The business metric of a happening just counted."""
    if event.counter in _METRIC:
        metrics.add(_METRIC[event.counter], 1)
    elif event.counter == REFUNDS and event.amount is not None:
        metrics.add(metrics.REFUNDED_AMOUNT, float(event.amount), unit="None", currency=currency_code(event.currency))
    elif event.counter == FRAUD_CHECK:
        metrics.add(metrics.FRAUD_DECISIONS, 1, decision=event.decision or "error")


def events_of(change: StreamChange) -> list[DailyEvent]:
    """The happenings one stream record of an order's partition stands for."""
    read = stores().images
    written = _day(change.at) or iso(utcnow())[:10]
    kind = change.kind
    if kind == "order":
        return _order(read.order(change.old), read.order(change.new), written)
    if kind == "invoice":
        return _invoice(read.invoice(change.old), read.invoice(change.new))
    order_id = read.order_id(change.keys)
    if order_id is None:
        return []
    if kind == "action":
        return _action(read.action(change.old), read.action(change.new), order_id, written)
    if kind == "fraud_check":
        return _fraud(read.fraud_check(change.old), read.fraud_check(change.new), order_id, change.sequence)
    return []


def _day(timestamp: str | None) -> str | None:
    return timestamp[:10] if timestamp and _DAY.match(timestamp) else None


def _order(before: Order | None, after: Order | None, written: str) -> list[DailyEvent]:
    if after is None:
        return []  # deleted: what happened to it stays counted
    slug = _STATUS_COUNTERS.get(after.status)
    if before is None:
        placed = _day(after.placed_at) or written
        out = [DailyEvent(f"{after.id}:placed", placed, PLACED)]
        if slug is not None:  # written already past Pending: that happened when it was placed
            out.append(DailyEvent(f"{after.id}:v{after.version}:{slug}", placed, slug))
        return out
    if slug is None or before.status is after.status:
        return []
    return [DailyEvent(f"{after.id}:v{after.version}:{slug}", written, slug)]


def _invoice(before: Invoice | None, after: Invoice | None) -> list[DailyEvent]:
    if after is None:
        return []
    was = {t.id: t for t in before.transactions} if before is not None else {}
    out = []
    for txn in after.transactions:
        day = _day(txn.at)
        if day is None:
            continue
        if txn.type == "payment" and txn.id not in was:
            out.append(DailyEvent(f"{after.order_id}:payment:{txn.id}", day, PAYMENTS, after.currency, txn.amount))
        elif txn.type == "refund" and txn.state == "done" and (txn.id not in was or was[txn.id].state != "done"):
            out.append(DailyEvent(f"{after.order_id}:refund:{txn.id}", day, REFUNDS, after.currency, txn.amount))
    return out


def _action(before: Action | None, after: Action | None, order_id: str, written: str) -> list[DailyEvent]:
    if after is None or after.status is not ActionStatus.FAILED:
        return []
    if before is not None and before.status is ActionStatus.FAILED:
        return []
    return [DailyEvent(f"{order_id}:action:{after.id}:failed", _day(after.finished_at) or written, FAILED_ACTIONS)]


def _fraud(before: FraudCheck | None, after: FraudCheck | None, order_id: str, sequence: str) -> list[DailyEvent]:
    if after is None or after == before:
        return []
    day = _day(after.checked_at)
    if day is None:
        return []
    which = sequence or f"{after.checked_at}:{after.provider}"
    return [DailyEvent(f"{order_id}:fraud:{which}", day, FRAUD_CHECK, decision=after.decision)]
