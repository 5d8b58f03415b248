"""Order events on EventBridge: every step of an order's life, driven through the API (the
workflows run by moto's interpreter), read by the order stream's handler from DynamoDB Local's
stream (`order_stream`), put on a bus of moto's EventBridge and read back from the SQS queue a
rule of that bus sends every OrderDesk event to (`BusTap`). A proxy in front of moto refuses
chosen PutEvents entries (`FaultyEventBridge`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from orderdesk.adapters import aws
from orderdesk.adapters.bus import BusEvent, EventsNotPut, put_events
from orderdesk.config import reset_settings
from orderdesk.services.projections import events
from tests.conftest import OrderStream
from tests.integration.bus_support import BusTap, FaultyEventBridge, validate_detail
from tests.integration.workflow_support import wait_for_action

pytestmark = pytest.mark.timeout(120)


@pytest.fixture()
def bus(workflows: Any, table: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[BusTap]:
    """A bus of its own for the test, the order stream's handler publishing to it."""
    tap = BusTap(workflows.server.endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", workflows.server.endpoint)
    monkeypatch.setenv("EVENT_BUS_NAME", tap.bus)
    reset_settings()
    aws.reset_clients()
    yield tap
    reset_settings()
    aws.reset_clients()


@pytest.fixture()
def faulty(workflows: Any, bus: BusTap, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultyEventBridge]:
    """The handler's EventBridge calls go through a proxy that fails what a test tells it to."""
    proxy = FaultyEventBridge(workflows.server.endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", proxy.url)
    reset_settings()
    aws.reset_clients()
    yield proxy
    proxy.stop()


def types(received: list[dict[str, Any]]) -> list[str]:
    return [e["detail-type"] for e in received]


def place(api: Any, items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    client = api.post("/clients", {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
                                   "country": "GB"})
    assert client.status_code == 201, client.data
    r = api.post("/orders", {"client_id": client.data["id"], "payment_method": "manual", "skip_fraud_check": True,
                             "items": items or [{"kind": "product", "description": "VPS 2GB", "amount": "15.00"}]},
                 role="support")
    assert r.status_code == 201, r.data
    return r.data  # type: ignore[no-any-return]


def pay(api: Any, order: dict[str, Any], amount: str, transaction_id: str) -> None:
    r = api.post(f"/invoices/{order['invoice_id']}/payments",
                 {"amount": amount, "gateway": "manual", "transaction_id": transaction_id}, role="billing")
    assert r.status_code == 201, r.data


def run(api: Any, order_id: str, verb: str, body: dict[str, Any] | None = None, role: str = "billing") -> None:
    r = api.post(f"/orders/{order_id}/{verb}", body or {}, role=role)
    assert r.status_code == 202, r.data
    done = wait_for_action(api, order_id, r.data["action"]["id"])
    assert done["status"] == "SUCCEEDED", done


def test_each_step_of_an_orders_life_puts_exactly_its_events_once_in_order(api, order_stream, bus):  # type: ignore[no-untyped-def]
    log: list[dict[str, Any]] = []

    def step() -> list[dict[str, Any]]:
        """What the step put on the bus, once the stream has been read to its end."""
        order_stream.settle()
        got = bus.received()
        log.extend(got)
        return got

    # GIVEN an order of a product and a domain, placed by the storefront's role
    order = place(api, [{"kind": "product", "description": "VPS 2GB", "amount": "15.00"},
                        {"kind": "domain", "description": "Domain", "amount": "12.00", "domain": "lovelace.test"}])
    oid = order["id"]
    product, domain = (i["id"] for i in order["items"])
    placed = step()
    # THEN it is placed, once
    assert types(placed) == ["Order Placed"]
    expected = {"order_id": oid, "order_number": order["number"], "status": "Pending", "total": "27.00",
                "currency": order["currency"], "payment_method": "manual", "client_id": order["client"]["id"]}
    assert {k: placed[0]["detail"][k] for k in expected} == expected

    # WHEN it is screened again, THEN its result is published
    assert api.post(f"/orders/{oid}/fraud-check", role="support").status_code == 200
    (checked,) = step()
    assert checked["detail-type"] == "Order Fraud Checked" and checked["detail"]["decision"] in ("accept", "review")

    # WHEN it is paid
    pay(api, order, "27.00", "T-1")
    (paid,) = step()
    assert paid["detail-type"] == "Order Payment Recorded"
    assert paid["detail"]["payment"]["amount"] == "27.00" and paid["detail"]["invoice_status"] == "Paid"

    # WHEN it is accepted: each item provisioned, then the order Active
    run(api, oid, "accept", role="support")
    accepted = step()
    assert types(accepted) == ["Order Item Provisioned", "Order Item Provisioned", "Order Accepted"]
    assert {e["detail"]["item"]["id"] for e in accepted[:2]} == {product, domain}
    assert accepted[2]["detail"]["action"]["type"] == "accept"

    # WHEN it is cancelled with a refund: the product terminated, then the order cancelled with its
    # domain (one transaction: those in either order). The payment was taken by hand (`manual`, no
    # refund API): its refund is recorded owed, and no event says a refund was made
    run(api, oid, "cancel", {"refund": True})
    cancelled = step()
    assert Counter(types(cancelled)) == Counter({"Order Item Terminated": 2, "Order Cancelled": 1})
    # (the product was provisioned by hand: no account to terminate, so it leaves service with
    # the domain in the finish's transaction)
    assert {e["detail"]["item"]["id"] for e in cancelled if e["detail-type"] == "Order Item Terminated"} == {
        product, domain}
    (cancel,) = [e for e in cancelled if e["detail-type"] == "Order Cancelled"]
    assert cancel["detail"]["refund"] is True and cancel["detail"]["from_status"] == "Active"

    # WHEN billing confirms paying the refund back, THEN the payment is refunded, once
    owed = next(t for t in api.get(f"/invoices/{order['invoice_id']}").data["transactions"] if t["type"] == "refund")
    assert api.post(f"/invoices/{order['invoice_id']}/refunds/{owed['id']}/confirm", {"reference": "OUT-1"},
                    role="billing").status_code == 200
    (refunded,) = step()
    assert refunded["detail-type"] == "Order Payment Refunded"
    refund = refunded["detail"]["refund"]
    assert refund["amount"] == "27.00" and refund["refund_of"] == paid["detail"]["payment"]["id"]
    assert refund["transaction_id"] == "OUT-1"

    # WHEN it is set back to pending, then as fraud, then deleted
    assert api.post(f"/orders/{oid}/pending", role="support").status_code == 200
    assert types(step()) == ["Order Back To Pending"]
    run(api, oid, "fraud")
    assert types(step()) == ["Order Set As Fraud"]
    assert api.delete(f"/orders/{oid}").status_code == 204
    assert types(step()) == ["Order Deleted"]

    # THEN every event is OrderDesk's, of this order, valid against its published schema, once
    assert {e["source"] for e in log} == {"orderdesk"}
    assert {e["detail"]["order_id"] for e in log} == {oid}
    for event in log:
        validate_detail(event)
    assert len({e["detail"]["event_id"] for e in log}) == len(log) == 13
    # and their sequence numbers give the order they were put in (the finish's transaction aside)
    sequences = [int(e["detail"]["sequence"]) for e in log]
    assert sequences == sorted(sequences)


def test_a_stream_delivered_again_puts_nothing_twice(api, order_stream, bus, table):  # type: ignore[no-untyped-def]
    # GIVEN an order placed and paid, its events put
    order = place(api)
    pay(api, order, "15.00", "T-1")
    assert order_stream.settle() > 0
    assert types(bus.received()) == ["Order Placed", "Order Payment Recorded"]

    # WHEN the whole stream is delivered again (a reader starting over from its oldest record,
    # as Lambda does after a failed batch)
    again = OrderStream(table)
    assert again.settle() > 0

    # THEN the bus gets nothing more
    assert bus.received() == []


def test_entries_putevents_refused_are_sent_again_alone(bus, faulty, table):  # type: ignore[no-untyped-def]
    # GIVEN EventBridge refuses the second entry of a call, twice
    refusals = Counter[str]()

    def refuse(entry: dict[str, Any]) -> bool:
        if entry["DetailType"] != "Order Payment Refunded" or refusals["refund"] >= 2:
            return False
        refusals["refund"] += 1
        return True

    faulty.refuse = refuse
    faulty.fail_calls = 1  # and the first call fails as a whole (a 500)
    first = BusEvent(id="o1:payment:p1", detail_type="Order Payment Recorded", detail={"n": 1})
    second = BusEvent(id="o1:refund:r1", detail_type="Order Payment Refunded", detail={"n": 2})

    # WHEN both are put
    put_events(bus.bus, [first, second], pause=0)

    # THEN the failed call was made again, the refused entry sent again alone until taken, and each
    # event arrived once
    assert [e["DetailType"] for e in faulty.seen] == ["Order Payment Recorded", "Order Payment Refunded"] * 2 + [
        "Order Payment Refunded", "Order Payment Refunded"]
    assert sorted(types(bus.received())) == ["Order Payment Recorded", "Order Payment Refunded"]


def test_events_the_bus_never_took_fail_the_record_and_go_once_when_it_does(api, order_stream, bus, faulty,  # type: ignore[no-untyped-def]
                                                                             table):
    # GIVEN EventBridge refuses every Order Placed entry, and a call of two events of which it
    # takes one
    faulty.refuse = lambda entry: entry["DetailType"] == "Order Placed"
    with pytest.raises(EventsNotPut) as refused:
        events.publish(bus.bus, [BusEvent(id="x:placed", detail_type="Order Placed", detail={"n": 1}),
                                 BusEvent(id="x:deleted", detail_type="Order Deleted", detail={"n": 2})])
    assert refused.value.taken == {"x:deleted"}
    order = place(api)

    # WHEN the stream is read: the record fails every retry and is parked (the stream's failure queue)
    order_stream.poller.run_once()
    assert len(order_stream.poller.failed_batches) == 1
    assert types(bus.received()) == ["Order Deleted"]  # the one the bus took

    # WHEN EventBridge takes them again and the stream is delivered again
    faulty.refuse = None
    OrderStream(table).settle()
    events.publish(bus.bus, [BusEvent(id="x:placed", detail_type="Order Placed", detail={"n": 1}),
                             BusEvent(id="x:deleted", detail_type="Order Deleted", detail={"n": 2})])

    # THEN the order's Order Placed and the refused event arrive once each, the taken one not again
    got = bus.received()
    assert Counter((e["detail-type"], e["detail"].get("order_id")) for e in got) == Counter(
        {("Order Placed", order["id"]): 1, ("Order Placed", None): 1})
