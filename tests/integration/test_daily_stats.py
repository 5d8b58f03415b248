"""Daily statistics: the order stream's handler (`functions/order_stream`) reads DynamoDB Local's
stream into the per-day records (`projections.daily`), and GET /stats/daily reads them back, one
item a day. Each happening counts once on its day, however often its stream batch is delivered,
and adds its business metric (an EMF line) once."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from copy import deepcopy
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from functions.order_stream import app as order_stream_app
from infra.local.event_sources import DynamoDBStreamPoller, template_filter_patterns
from orderdesk.adapters.store.table import client as dynamodb_client
from orderdesk.config import reset_settings
from orderdesk.domain.changes import OrderChange
from orderdesk.domain.model import HistoryEntry, Transaction, iso, new_id, utcnow
from orderdesk.domain.money import fmt
from orderdesk.domain.statuses import InvoiceStatus, OrderStatus
from orderdesk.services.ports import stores
from orderdesk.services.workflow_runtime import fail_action
from tests.integration.events_support import lock, place, seed


class RecordingStream:
    """The table's stream read as the template's event source mapping does, each batch handed to
    the order stream's handler and kept, so it can be delivered again."""

    def __init__(self, table: str) -> None:
        self.batches: list[dict[str, Any]] = []

        def handler(event: dict[str, Any], context: Any) -> Any:
            self.batches.append(deepcopy(event))
            return order_stream_app.handler(event, context)

        self.poller = DynamoDBStreamPoller(table, handler, template_filter_patterns("OrderStreamFunction"),
                                           function_name="order-stream", retry_delay=0)

    def settle(self) -> None:
        while self.poller.run_once():
            pass
        assert not self.poller.failed_batches, self.poller.failed_batches

    def deliver_again(self) -> None:
        from infra.local.event_sources import _context

        for batch in self.batches:
            result = order_stream_app.handler(deepcopy(batch), _context("order-stream", "us-east-1", 60))
            assert not result.get("batchItemFailures"), result


@pytest.fixture()
def stream(table: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingStream]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "OrderDesk/test")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    reset_settings()
    yield RecordingStream(table)
    reset_settings()


def emf(text: str) -> dict[str, float]:
    """The metrics (name, with its dimension value) of the EMF lines in `text`, values summed."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "OrderDesk/test"
            extra = [d for d in directive["Dimensions"][0] if d != "service"]
            for metric in directive["Metrics"]:
                name = metric["Name"] + "".join(f"[{blob[d]}]" for d in extra)
                values = blob[metric["Name"]]
                out[name] = out.get(name, 0) + (sum(values) if isinstance(values, list) else values)
    return out


def today() -> str:
    return iso(utcnow())[:10]


def day_of(api: Any, day: str) -> dict[str, Any]:
    r = api.get(f"/stats/daily?from={day}&to={day}", role="viewer")
    assert r.status_code == 200, r.data
    (one,) = r.data
    return one  # type: ignore[no-any-return]


def new_order(api: Any, amount: str = "15.00", currency: str = "USD") -> dict[str, Any]:
    client = api.post("/clients", {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
                                   "country": "GB"}).data
    r = api.post("/orders", {"client_id": client["id"], "payment_method": "banktransfer", "skip_fraud_check": True,
                             "currency": currency,
                             "items": [{"kind": "product", "description": "VPS 2GB", "amount": amount}]})
    assert r.status_code == 201, r.data
    return r.data  # type: ignore[no-any-return]


def paid_order(days_ago: float) -> Any:
    """A Pending order placed `days_ago`, paid in full when it was placed."""
    order = place(OrderStatus.PENDING, days_ago=days_ago)
    whole = stores().orders.get_order(order.id)
    invoice = deepcopy(whole.invoice)
    invoice.transactions = [Transaction(id=new_id(), type="payment", gateway="manual", transaction_id=f"TX-{new_id()}",
                                        amount=invoice.total, at=whole.placed_at)]
    invoice.status, invoice.balance, invoice.date_paid = InvoiceStatus.PAID, Decimal("0.00"), whole.placed_at
    stores().writes.apply(whole, OrderChange(invoice=invoice))
    return stores().orders.get_order(order.id)


def refund(order_id: str, amount: Decimal, *, days_ago: float = 0, state: str = "done", refund_id: str | None = None,
           to: OrderStatus | None = None) -> None:
    """A refund of the order's payment recorded on its invoice (`state` owed: to pay back by hand)."""
    whole = stores().orders.get_order(order_id)
    invoice = deepcopy(whole.invoice)
    payment = next(t for t in invoice.transactions if t.type == "payment")
    invoice.transactions = [t for t in invoice.transactions if t.id != refund_id] + [Transaction(
        id=refund_id or new_id(), type="refund", gateway="manual", transaction_id="RF-1", amount=amount,
        at=iso(utcnow() - timedelta(days=days_ago)), refund_of=payment.id, state=state)]
    stores().writes.apply(whole, OrderChange(invoice=invoice, to_status=to))


def move(order_id: str, to: OrderStatus) -> None:
    """A status change through the one write path (as an action's end or a bulk change writes it)."""
    order = stores().orders.get_order(order_id)
    stores().writes.apply(order, OrderChange(to_status=to, history=[HistoryEntry(
        at=iso(utcnow()), actor="test", action="status changed", from_=order.status.value, to=to.value)]))


def test_the_same_stream_batches_fed_twice_count_once(api, stream, capsys):
    # GIVEN two orders placed, one paid and accepted, the other cancelled
    first, second = new_order(api, "15.00"), new_order(api, "7.50")
    assert api.post(f"/invoices/{first['invoice_id']}/payments",
                    {"amount": "15.00", "gateway": "manual", "transaction_id": "TX-1"}, role="billing").status_code == 201
    move(first["id"], OrderStatus.ACTIVE)
    move(second["id"], OrderStatus.CANCELLED)
    capsys.readouterr()
    # WHEN the order stream reads them
    stream.settle()
    first_pass = emf(capsys.readouterr().out)
    counted = day_of(api, today())
    # AND every batch it read is delivered again
    stream.deliver_again()
    second_pass = emf(capsys.readouterr().out)
    # THEN today counts each happening once
    assert (counted["placed"], counted["accepted"], counted["cancelled"], counted["fraud"]) == (2, 1, 1, 0)
    assert counted["payments"] == {"count": 1, "amounts": {"USD": "15.00"}}
    assert counted["refunds"] == {"count": 0, "amounts": {}}
    assert day_of(api, today()) == counted
    # AND each was one business metric, written by the first delivery only
    assert first_pass == {"OrdersPlaced": 2, "OrdersAccepted": 1, "OrdersCancelled": 1}
    assert second_pass == {}


def test_each_happening_counts_on_its_own_day(api, stream):
    # GIVEN orders written in the status they reached, placed 3 days ago (as imports and the demo
    # data are), two paid when placed 2 days ago, one of them Cancelled & Refunded yesterday
    three, two, one = [iso(utcnow() - timedelta(days=d))[:10] for d in (3, 2, 1)]
    place(OrderStatus.ACTIVE, days_ago=3)
    place(OrderStatus.FRAUD, days_ago=3)
    kept, refunded = paid_order(2), paid_order(2)
    refund(refunded.id, refunded.total, days_ago=1, to=OrderStatus.CANCELLED)
    # WHEN the stream is read
    stream.settle()
    # THEN each counts on the day it happened: placed (and reached, when written so) on its
    # placing day, a payment on its day, the refund on its own, the cancellation today
    days = {d["date"]: d for d in api.get(f"/stats/daily?from={three}&to={today()}", role="viewer").data}
    assert (days[three]["placed"], days[three]["accepted"], days[three]["fraud"]) == (2, 1, 1)
    assert days[two]["placed"] == 2
    assert days[two]["payments"] == {"count": 2, "amounts": {"USD": fmt(kept.total + refunded.total)}}
    assert days[one]["refunds"] == {"count": 1, "amounts": {"USD": fmt(refunded.total)}}
    assert (days[today()]["cancelled"], days[today()]["placed"]) == (1, 0)


def test_an_owed_refund_counts_once_when_it_is_confirmed(api, stream):
    # GIVEN a paid order whose refund is recorded as owed (to be paid back by hand)
    order = paid_order(0)
    refund(order.id, order.total, state="owed", refund_id="rf-owed")
    stream.settle()
    assert day_of(api, today())["refunds"]["count"] == 0
    # WHEN the operator confirms paying it back (the refund becomes done), and the stream's
    # batches are delivered again
    refund(order.id, order.total, state="done", refund_id="rf-owed")
    stream.settle()
    stream.deliver_again()
    # THEN it counts, once
    assert day_of(api, today())["refunds"] == {"count": 1, "amounts": {"USD": fmt(order.total)}}


def test_a_failed_action_and_a_fraud_check_count_on_their_day(api, stream, capsys):
    # GIVEN an order whose Accept failed, and an order screened again
    failed = place(OrderStatus.PENDING, days_ago=0)
    action = lock(stores(), failed, "accept")
    fail_action(failed.id, action.id, "the server did not answer", actor="test")
    screened = new_order(api)
    assert api.post(f"/orders/{screened['id']}/fraud-check", role="support").status_code == 200
    capsys.readouterr()
    # WHEN the stream is read
    stream.settle()
    # THEN today has one failed action and one screening result by its decision
    day = day_of(api, today())
    assert day["failed_actions"] == 1
    decision = stores().orders.get_order(screened["id"]).fraud_check.decision
    assert sum(day["fraud_checks"].values()) == 1 and day["fraud_checks"][decision] == 1
    metrics = emf(capsys.readouterr().out)
    assert metrics["FailedActions"] == 1 and metrics[f"FraudDecisions[{decision}]"] == 1


def test_a_refund_is_a_business_metric_of_its_currency(api, stream, capsys):
    # GIVEN an order placed in euros, paid, then partly refunded
    order = new_order(api, "20.00", currency="EUR")
    assert api.post(f"/invoices/{order['invoice_id']}/payments",
                    {"amount": "20.00", "gateway": "manual", "transaction_id": "TX-EUR"}, role="billing").status_code == 201
    refund(order["id"], Decimal("4.25"))
    capsys.readouterr()
    # WHEN the stream is read
    stream.settle()
    # THEN the refunded amount is a metric with its currency, and the day's sums are in euros
    assert emf(capsys.readouterr().out)["RefundedAmount[EUR]"] == 4.25
    day = day_of(api, today())
    assert day["refunds"]["amounts"] == {"EUR": "4.25"} and day["payments"]["amounts"] == {"EUR": "20.00"}


def test_the_days_are_read_one_item_a_day_never_the_orders(api, stream):
    # GIVEN 30 orders placed today and one on each of the 3 days before, counted (more orders would
    # only make the stream slower to read: the point is 33 orders, 4 items read)
    seed(30, [OrderStatus.PENDING, OrderStatus.ACTIVE], placed_days_ago=None)
    for days_ago in (1, 2, 3):
        place(OrderStatus.PENDING, days_ago=days_ago)
    stream.settle()
    calls: list[int] = []

    def count_items(parsed: dict[str, Any], **_: Any) -> None:
        calls.append(len(parsed.get("Items", [])))

    events = dynamodb_client().meta.events
    events.register("after-call.dynamodb.Query", count_items)
    try:
        # WHEN a week is read
        first = iso(utcnow() - timedelta(days=6))[:10]
        week = api.get(f"/stats/daily?from={first}&to={today()}", role="viewer").data
    finally:
        events.unregister("after-call.dynamodb.Query", count_items)
    # THEN seven days come back, oldest first, the ones nothing happened on as zeros, from one
    # Query that read one item per day with counts (four; five when run in the half hour after
    # midnight UTC, some of today's orders then being yesterday's), not the orders
    assert [d["date"] for d in week] == [iso(utcnow() - timedelta(days=6 - n))[:10] for n in range(7)]
    assert week[0]["placed"] == 0 and week[0]["payments"] == {"count": 0, "amounts": {}}
    assert sum(d["placed"] for d in week) == 33
    counted_days = sum(1 for d in week if d["placed"])
    assert counted_days in (4, 5) and calls == [counted_days]


def test_a_range_is_checked_and_defaults_to_the_last_30_days(api, table):
    assert [d["date"] for d in api.get("/stats/daily", role="viewer").data][-1] == today()
    assert len(api.get("/stats/daily", role="viewer").data) == 30
    for query, field in (("from=2026-03-02&to=2026-03-01", "from"), ("from=2024-01-01&to=2026-01-01", "from"),
                         ("from=2026-02-31", "from"), ("to=yesterday", "to"), ("since=2026-01-01", "since")):
        r = api.get(f"/stats/daily?{query}", role="viewer")
        assert r.status_code == 400 and field in r.data["error"]["fields"], (query, r.data)


def test_a_stripe_payment_and_a_refund_made_in_stripe_count_once_each(api, client, stream, monkeypatch):
    # GIVEN Stripe's webhook configured, and an order to be paid through Stripe
    from infra.local.stripe_event import charge_refunded, payment_intent_succeeded, signature

    secret = "whsec_test_daily_0123456789abcdef"
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", secret)
    reset_settings()
    order = new_order(api, "40.00")

    def deliver(event: dict[str, Any]) -> None:
        payload = json.dumps(event)
        r = client.http.request("POST", "/gateways/stripe/webhook", body=payload.encode(), headers={
            "Content-Type": "application/json", "Stripe-Signature": signature(payload, secret)})
        assert r.status_code == 200, r.body

    # WHEN Stripe tells of the payment, then of 15.00 refunded in its dashboard, each event twice,
    # and the stream's batches are delivered again
    paid = payment_intent_succeeded(order["invoice_id"], 4000, "usd", intent_id="pi_daily", charge_id="ch_daily")
    refunded = charge_refunded("pi_daily", "ch_daily", 4000, [("re_daily", 1500)], "usd")
    for event in (paid, paid, refunded, refunded):
        deliver(event)
    stream.settle()
    stream.deliver_again()
    # THEN today counts the payment and the refund once each, with their amounts
    day = day_of(api, today())
    assert day["payments"] == {"count": 1, "amounts": {"USD": "40.00"}}
    assert day["refunds"] == {"count": 1, "amounts": {"USD": "15.00"}}
