"""Use cases run against the in-memory stores only (`tests.fakes.memory_store`, which passes the
same contract tests as the DynamoDB data layer): placing an order, taking payments, setting an
order back to Pending. No database, no network — every socket connect fails here — and each test
takes milliseconds. This is what the services' protocols (`services.ports`) are for."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from orderdesk.domain.changes import OrderChange
from orderdesk.domain.errors import (
    ActionInProgress,
    DuplicateTransaction,
    TransitionNotAllowed,
    ValidationFailed,
)
from orderdesk.domain.model import Action, ActionStep, HistoryEntry, Order
from orderdesk.domain.queries import OrderFilter
from orderdesk.domain.statuses import (
    ActionStatus,
    InvoiceStatus,
    ItemStatus,
    OrderStatus,
    PaymentStatus,
)
from orderdesk.schemas import ClientIn, CreateOrderIn, PaymentIn
from orderdesk.services import actions, directory, invoices, orders
from orderdesk.services.ports import Stores, stores, use_stores
from tests.fakes.memory_store import memory_stores


@pytest.fixture()
def memory(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stores]:
    """The services on fresh in-memory stores; back to DynamoDB afterwards."""

    def no_connection(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a use case run in memory opened a connection")

    monkeypatch.setattr(socket.socket, "connect", no_connection)
    monkeypatch.setattr(socket.socket, "connect_ex", no_connection)
    fake = memory_stores()
    use_stores(fake)
    try:
        yield fake
    finally:
        use_stores(None)


def place_order(amounts: tuple[str, ...] = ("10.00", "25.00"), discount: str | None = None) -> Order:
    client = directory.create_client(ClientIn.model_validate_json(json.dumps(
        {"first_name": "Ada", "last_name": "Lovelace", "email": "Ada@Example.com", "country": "GB"})))
    body: dict[str, Any] = {"client_id": client.id, "payment_method": "manual", "items": [
        {"kind": "product", "description": f"Hosting {n}", "amount": a} for n, a in enumerate(amounts)]}
    if discount:
        body["discount"] = discount
    return orders.create_order(CreateOrderIn.model_validate_json(json.dumps(body)), actor="kim")


def pay(invoice_id: str, amount: str, ref: str) -> None:
    invoices.record_payment(invoice_id, PaymentIn.model_validate_json(json.dumps(
        {"amount": amount, "gateway": "manual", "transaction_id": ref})), actor="kim")


def accepted(order_id: str) -> Order:
    """The order as the Accept workflow leaves it (Active, items Active): its last write, here
    made straight through the store, since the workflow is not what these tests are about."""
    data = stores()
    order = data.orders.get_order(order_id)
    data.writes.apply(order, OrderChange(to_status=OrderStatus.ACTIVE, item_status=ItemStatus.ACTIVE, history=[
        HistoryEntry(at=order.placed_at, actor="workflow", action="accept done", from_="Pending", to="Active")]))
    return data.orders.get_order(order_id)


def test_an_order_is_placed_pending_with_its_unpaid_invoice_and_history(memory: Stores) -> None:
    # GIVEN a client
    # WHEN an order of two items with a discount is placed
    placed = place_order(discount="5.00")
    # THEN order and items are Pending, the invoice Unpaid for the items less the discount, the history says so
    stored = memory.orders.get_order(placed.id)
    assert stored.status is OrderStatus.PENDING and stored.client.email == "ada@example.com"
    assert [i.status for i in stored.items] == [ItemStatus.PENDING, ItemStatus.PENDING]
    assert stored.invoice is not None and stored.invoice.status is InvoiceStatus.UNPAID
    assert (stored.invoice.subtotal, stored.invoice.total, stored.invoice.balance) == (
        Decimal("35.00"), Decimal("30.00"), Decimal("30.00"))
    assert [(h.action, h.to) for h in stored.history] == [("order placed", "Pending")]
    assert stored == memory.orders.get_order(placed.id) and stored.items == placed.items


def test_an_order_for_an_unknown_client_names_the_field_and_stores_nothing(memory: Stores) -> None:
    # WHEN an order names a client nobody added
    body = {"client_id": "nobody", "payment_method": "manual",
            "items": [{"kind": "product", "description": "Hosting", "amount": "10.00"}]}
    with pytest.raises(ValidationFailed) as refused:
        orders.create_order(CreateOrderIn.model_validate_json(json.dumps(body)), actor="kim")
    # THEN the error names client_id, and no order was stored
    assert set(refused.value.fields) == {"client_id"}
    assert memory.orders.list_orders(OrderFilter(), 10, None).orders == []


def test_payments_up_to_the_balance_make_invoice_and_order_paid_once(memory: Stores) -> None:
    # GIVEN an order of 35.00
    placed = place_order()
    # WHEN 20.00 then 15.00 are paid
    pay(placed.invoice_id, "20.00", "m-1")
    half = invoices.get_invoice(placed.invoice_id)
    pay(placed.invoice_id, "15.00", "m-2")
    # THEN Unpaid with 15.00 due after the first, then Paid; the order and its items Paid
    assert (half.status, half.balance) == (InvoiceStatus.UNPAID, Decimal("15.00"))
    order = memory.orders.get_order(placed.id)
    assert order.invoice is not None and (order.invoice.status, order.invoice.balance) == (InvoiceStatus.PAID, 0)
    assert order.payment_status is PaymentStatus.PAID and order.items[0].payment_status is PaymentStatus.PAID
    assert [h.action for h in order.history].count("payment recorded") == 2
    # WHEN the second payment is recorded again, or more is paid
    # THEN the repeat is a duplicate and the invoice takes no more payments: still two transactions
    with pytest.raises(DuplicateTransaction):
        pay(placed.invoice_id, "15.00", "m-2")
    with pytest.raises(TransitionNotAllowed):
        pay(placed.invoice_id, "1.00", "m-3")
    assert len(invoices.get_invoice(placed.invoice_id).transactions) == 2


def test_a_payment_over_the_balance_names_the_amount(memory: Stores) -> None:
    # GIVEN an order of 35.00
    placed = place_order()
    # WHEN 35.01 is paid
    with pytest.raises(ValidationFailed) as refused:
        pay(placed.invoice_id, "35.01", "m-1")
    # THEN the error names amount; nothing recorded
    assert set(refused.value.fields) == {"amount"}
    assert invoices.get_invoice(placed.invoice_id).transactions == []


def test_a_payment_while_an_action_holds_the_order_is_refused(memory: Stores) -> None:
    # GIVEN an order a Cancel & Refund holds (its refunds planned on the invoice as it is)
    placed = place_order()
    order = memory.orders.get_order(placed.id)
    before = invoices.get_invoice(placed.invoice_id)
    action = Action(id="act-1", order_id=order.id, type="cancel_refund", status=ActionStatus.RUNNING,
                    steps=[ActionStep(name="cancel_invoice", status="PENDING")], started_at=order.placed_at)
    memory.actions.start_action(order, action, frozenset({OrderStatus.PENDING}), HistoryEntry(
        at=order.placed_at, actor="kim", action="cancel & refund started", from_="Pending", to=None))
    # WHEN a payment is recorded
    # THEN ActionInProgress (it would never be refused), the invoice untouched
    with pytest.raises(ActionInProgress):
        pay(placed.invoice_id, "10.00", "m-1")
    assert invoices.get_invoice(placed.invoice_id) == before and before.transactions == []


def test_back_to_pending_moves_order_and_items_and_says_why(memory: Stores) -> None:
    # GIVEN an accepted order, its items Active
    order = accepted(place_order().id)
    # WHEN it is set back to Pending
    back = actions.back_to_pending(order.id, actor="kim")
    # THEN order and items are Pending, no lock; the history names the items that moved and from where
    assert back.status is OrderStatus.PENDING and back.pending_action is None
    assert [i.status for i in back.items] == [ItemStatus.PENDING, ItemStatus.PENDING]
    last = back.history[-2:]
    assert [(h.action, h.from_, h.to) for h in last] == [("set back to pending", "Active", "Pending"),
                                                        ("items set back to pending", None, "Pending")]
    assert last[1].detail is not None and last[1].detail.count("Active") == 2
    assert back == memory.orders.get_order(order.id)


def test_back_to_pending_of_a_pending_order_is_refused_and_writes_nothing(memory: Stores) -> None:
    # GIVEN a pending order
    placed = place_order()
    before = memory.orders.get_order(placed.id)
    # WHEN it is set back to Pending
    # THEN TransitionNotAllowed, and the order is as it was
    with pytest.raises(TransitionNotAllowed):
        actions.back_to_pending(placed.id, actor="kim")
    assert memory.orders.get_order(placed.id) == before


def test_of_two_racing_back_to_pending_one_wins_and_the_other_is_refused(memory: Stores) -> None:
    # GIVEN an accepted order
    order = accepted(place_order().id)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def operator(name: str) -> None:
        barrier.wait()
        try:
            actions.back_to_pending(order.id, actor=name)
            outcomes.append("moved")
        except TransitionNotAllowed:
            outcomes.append("refused")

    # WHEN two operators set it back to Pending at the same moment
    threads = [threading.Thread(target=operator, args=(name,)) for name in ("kim", "sam")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    # THEN exactly one moved it; the other was refused, and the move was written once
    assert sorted(outcomes) == ["moved", "refused"]
    history = memory.orders.get_order(order.id).history
    assert [h.action for h in history].count("set back to pending") == 1


def test_stripes_events_record_a_payment_and_a_dashboard_refund_once_in_memory(  # type: ignore[no-untyped-def]
        memory, monkeypatch):
    # GIVEN an order of 35.00, and Stripe's events of its payment and of a refund made in the dashboard
    from infra.local.stripe_event import charge_refunded, payment_intent_succeeded, signature
    from orderdesk.config import reset_settings
    from orderdesk.services import stripe_events

    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_in_memory")
    reset_settings()
    order = place_order()
    paid = json.dumps(payment_intent_succeeded(order.invoice_id, 3500, "usd", intent_id="pi_mem", charge_id="ch_mem"))
    refunded = json.dumps(charge_refunded("pi_mem", "ch_mem", 3500, [("re_mem", 1000)], "usd"))

    # WHEN each is delivered twice
    outcomes = [stripe_events.receive(body.encode(), signature(body, "whsec_in_memory")).outcome
                for body in (paid, paid, refunded, refunded)]

    # THEN one payment and one refund are on the invoice, and the invoice is Paid (part refunded)
    reset_settings()
    assert outcomes == ["recorded"] * 4
    invoice = invoices.get_invoice(order.invoice_id)
    assert [(t.type, t.transaction_id, t.amount) for t in invoice.transactions] == [
        ("payment", "pi_mem", Decimal("35.00")), ("refund", "re_mem", Decimal("10.00"))]
    assert invoice.status is InvoiceStatus.PAID
