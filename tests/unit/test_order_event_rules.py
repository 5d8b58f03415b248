"""Which change of a record is which event (`projections.events.events_of`), one record at a time,
no database: the images are what DynamoDB Streams shows of the records the data layer writes
(built by its own mappers, serialized as DynamoDB JSON, deserialized as Powertools does), so the
rules are checked against the real formats (Decimals inside JSON attributes, the lock, a bulk
job's decision)."""

from __future__ import annotations

import copy
import random
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from infra.local.seed import build_order
from orderdesk.adapters.store import mappers
from orderdesk.domain.model import Client, PendingAction, Transaction
from orderdesk.domain.statuses import InvoiceStatus, ItemStatus, OrderStatus
from orderdesk.services.projections import StreamChange
from orderdesk.services.projections.events import events_of


def image(record: Any, **extra: Any) -> dict[str, Any]:
    """A record as a stream image shows it, with `extra` raw attributes beside its own."""
    raw = {**record.serialize(), **extra}
    deserializer = TypeDeserializer()
    return {name: deserializer.deserialize(value) for name, value in raw.items()}


def change(before: dict[str, Any] | None, after: dict[str, Any] | None, seq: str = "100") -> StreamChange:
    keys = {k: (after or before or {})[k] for k in ("pk", "sk")}
    event = "INSERT" if before is None else "REMOVE" if after is None else "MODIFY"
    return StreamChange(event=event, keys=keys, old=before, new=after, sequence=seq)


@pytest.fixture()
def placed() -> Any:
    client = Client(id="c1", first_name="Ada", last_name="Lovelace", email="ada@example.com", country="GB")
    order, items, invoice = build_order(random.Random(3), client, OrderStatus.PENDING, "2026-03-02T10:15:00Z",
                                        None, [])
    order.version = 1
    return order, items[0], invoice


def order_image(order: Any, **extra: Any) -> dict[str, Any]:
    return image(mappers.order_record(order, "ada", 8), version={"N": str(order.version)}, **extra)


def detail_types(found: list[Any]) -> list[str]:
    return [e.detail_type for e in found]


@pytest.mark.parametrize(("before", "after", "expected"), [
    (ItemStatus.PENDING, ItemStatus.ACTIVE, ["Order Item Provisioned"]),
    (ItemStatus.PENDING_REGISTRATION, ItemStatus.ACTIVE, ["Order Item Provisioned"]),
    (ItemStatus.PENDING, ItemStatus.PENDING_REGISTRATION, []),  # sent to the registrar: not yet
    (ItemStatus.ACTIVE, ItemStatus.CANCELLED, ["Order Item Terminated"]),
    (ItemStatus.SUSPENDED, ItemStatus.FRAUD, ["Order Item Terminated"]),
    (ItemStatus.PENDING, ItemStatus.CANCELLED, []),  # never provisioned: nothing ended
    (ItemStatus.ACTIVE, ItemStatus.PENDING, []),  # Back to Pending runs no module command
    (ItemStatus.SUSPENDED, ItemStatus.ACTIVE, []),  # unsuspended, not provisioned
])
def test_an_items_status_change_is_an_event_only_when_it_was_provisioned_or_ended(placed, before, after,
                                                                                  expected) -> None:  # type: ignore[no-untyped-def]
    order, item, _ = placed
    item.status = before
    old = image(mappers.item_record(order.id, 0, item, None))
    item.status = after
    new = image(mappers.item_record(order.id, 0, item, None))

    found = events_of(change(old, new))

    assert detail_types(found) == expected
    if found:
        assert found[0].detail["item"]["id"] == item.id and found[0].detail["order_id"] == order.id


def test_an_item_written_again_with_its_status_unchanged_is_no_event(placed) -> None:  # type: ignore[no-untyped-def]
    order, item, _ = placed
    item.status = ItemStatus.ACTIVE
    old = image(mappers.item_record(order.id, 0, item, None))
    item.username, item.last_error = "ada2", "retried"
    assert events_of(change(old, image(mappers.item_record(order.id, 0, item, None)))) == []


def test_an_orders_status_change_says_which_action_made_it(placed) -> None:  # type: ignore[no-untyped-def]
    order, _, _ = placed
    # GIVEN the order Active under a Cancel & Refund's lock, then Cancelled with the lock released
    order.status = OrderStatus.ACTIVE
    order.version = 6
    locked = order_image(order, pending_action={"S": '{"action_id":"a9","type":"cancel_refund",'
                                                     '"started_at":"2026-03-05T08:00:00Z","execution_arn":null}'})
    order.status, order.version = OrderStatus.CANCELLED, 7

    (event,) = events_of(change(locked, order_image(order), seq="4242"))

    assert event.detail_type == "Order Cancelled"
    assert event.id == f"{order.id}:v7:cancelled" and event.detail["sequence"] == "4242"
    assert event.detail["action"] == {"id": "a9", "type": "cancel_refund"} and event.detail["refund"] is True
    assert (event.detail["from_status"], event.detail["to_status"], event.detail["order_version"]) == (
        "Active", "Cancelled", 7)


def test_a_bulk_move_is_the_same_event_without_an_action(placed) -> None:  # type: ignore[no-untyped-def]
    order, _, _ = placed
    before = order_image(order)
    order.status, order.version = OrderStatus.ACTIVE, 2
    # a bulk job's decision is written on the order with the move (a map attribute of its own)
    after = order_image(order, **{"bulk#j1": {"M": {"a": {"S": "2026-03-03T00:00:00Z"}, "u": {"S": "admin"},
                                                    "n": {"N": "17"}, "t": {"S": "Active"}}},
                                  "bulk#j1#from": {"S": "Pending"}})

    (event,) = events_of(change(before, after))

    assert event.detail_type == "Order Accepted" and event.detail["action"] is None


def test_an_order_written_again_with_its_status_unchanged_is_no_event(placed) -> None:  # type: ignore[no-untyped-def]
    order, _, _ = placed
    before = order_image(order)
    order.flagged_for_review, order.version = True, 2
    assert events_of(change(before, order_image(order))) == []


def test_each_new_transaction_of_the_invoice_is_an_event_with_its_amount(placed) -> None:  # type: ignore[no-untyped-def]
    order, _, invoice = placed
    invoice.transactions, invoice.status = [], InvoiceStatus.UNPAID
    before = image(mappers.invoice_record(invoice))
    # GIVEN a write that only changes the invoice's status: no event
    moved = copy.deepcopy(invoice)
    moved.status = InvoiceStatus.CANCELLED
    assert events_of(change(before, image(mappers.invoice_record(moved)))) == []

    # WHEN a payment and its refund appear in one write
    payment = Transaction(id="p1", type="payment", gateway="manual", transaction_id="T-1", amount=Decimal("19.90"),
                          at="2026-03-02T10:20:00Z")
    refund = Transaction(id="r1", type="refund", gateway="manual", transaction_id="R-1", amount=Decimal("19.90"),
                         at="2026-03-05T08:00:00Z", refund_of="p1")
    invoice.transactions = [payment, refund]
    after = image(mappers.invoice_record(invoice))
    found = events_of(change(before, after))

    # THEN two events, in the invoice's order, amounts exact as strings; the payment's again is none
    assert detail_types(found) == ["Order Payment Recorded", "Order Payment Refunded"]
    assert found[0].detail["payment"]["amount"] == "19.90" and found[1].detail["refund"]["refund_of"] == "p1"
    assert [e.id for e in found] == [f"{order.id}:payment:p1", f"{order.id}:refund:r1"]
    invoice.transactions = [payment]
    assert events_of(change(image(mappers.invoice_record(invoice)), image(mappers.invoice_record(invoice)))) == []


def test_an_owed_refund_is_no_refund_event_until_it_is_confirmed_paid_back(placed) -> None:  # type: ignore[no-untyped-def]
    order, _, invoice = placed
    payment = Transaction(id="p1", type="payment", gateway="banktransfer", transaction_id="BT-1",
                          amount=Decimal("19.90"), at="2026-03-02T10:20:00Z")
    invoice.transactions = [payment]
    paid = image(mappers.invoice_record(invoice))
    # GIVEN Cancel & Refund recording the refund owed (a bank transfer has no refund API)
    owed = Transaction(id="r1", type="refund", gateway="banktransfer", transaction_id="", amount=Decimal("19.90"),
                       at="2026-03-05T08:00:00Z", refund_of="p1", state="owed")
    invoice.transactions = [payment, owed]
    recorded = image(mappers.invoice_record(invoice))
    # THEN no event says it was refunded: nothing was paid back
    assert events_of(change(paid, recorded)) == []

    # WHEN a person confirms paying it back
    done = copy.deepcopy(owed)
    done.state, done.reference, done.transaction_id, done.confirmed_by = "done", "OUT-7", "OUT-7", "ann"
    invoice.transactions = [payment, done]
    confirmed = image(mappers.invoice_record(invoice))
    found = events_of(change(recorded, confirmed))
    # THEN the refund is an event then, once, with the reference as its transaction id
    assert detail_types(found) == ["Order Payment Refunded"] and [e.id for e in found] == [f"{order.id}:refund:r1"]
    assert found[0].detail["refund"]["transaction_id"] == "OUT-7"
    assert events_of(change(confirmed, confirmed)) == []


def test_the_same_change_always_has_the_same_event_ids(placed) -> None:  # type: ignore[no-untyped-def]
    order, item, _ = placed
    old = image(mappers.item_record(order.id, 0, item, None))
    item.status = ItemStatus.ACTIVE
    new = image(mappers.item_record(order.id, 0, item, None))

    first, again = events_of(change(old, new, seq="77")), events_of(change(old, new, seq="77"))

    assert [e.id for e in first] == [e.id for e in again] and first[0].detail == again[0].detail
    assert events_of(change(old, new, seq="78"))[0].id != first[0].id  # another change of the item


def test_an_order_placed_and_deleted(placed) -> None:  # type: ignore[no-untyped-def]
    order, _, _ = placed
    (placed_event,) = events_of(change(None, order_image(order)))
    order.status = OrderStatus.FRAUD
    order.pending_action = PendingAction(action_id="d1", type="delete", started_at="2026-03-09T00:00:00Z")
    (deleted,) = events_of(change(order_image(order), None))

    assert (placed_event.detail_type, placed_event.detail["total"]) == ("Order Placed", f"{order.total:.2f}")
    assert (deleted.detail_type, deleted.detail["status"], deleted.id) == ("Order Deleted", "Fraud",
                                                                           f"{order.id}:deleted")
