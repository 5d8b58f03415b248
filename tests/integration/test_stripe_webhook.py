"""Stripe's webhook (SPEC §9) through the API on DynamoDB Local: events signed with the endpoint's
test secret as Stripe signs them (the stripe library's own signing), sent as raw bytes.

Payments are recorded once per event and once per payment, refunds made in Stripe's dashboard
once and without calling Stripe, forged, stale and unsigned deliveries refused with nothing kept,
events OrderDesk cannot match kept for billing, and amounts converted with each currency's real
exponent (USD 2, JPY 0, KWD 3)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from infra.local.stripe_event import charge_refunded, payment_intent_succeeded, signature
from orderdesk.config import reset_settings
from orderdesk.services import stripe_events

SECRET = "whsec_test_orderdesk_0123456789abcdef"


@pytest.fixture()
def stripe_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    reset_settings()
    yield SECRET
    reset_settings()


class Webhook:
    """Deliveries to POST /gateways/stripe/webhook, as Stripe makes them (no bearer token)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def send(self, event: dict[str, Any] | str, *, secret: str = SECRET, timestamp: int | None = None,
             header: str | None = "sign") -> Any:
        payload = event if isinstance(event, str) else json.dumps(event, indent=2)
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if header == "sign":
            headers["Stripe-Signature"] = signature(payload, secret, timestamp)
        elif header is not None:
            headers["Stripe-Signature"] = header
        resp = self.client.http.request("POST", "/gateways/stripe/webhook", headers=headers, body=payload.encode())
        resp.data = json.loads(resp.body) if resp.body else None
        return resp


@pytest.fixture()
def webhook(client: Any, stripe_secret: str) -> Webhook:
    return Webhook(client)


def new_order(api: Any, amounts: list[str], currency: str = "USD", **extra: Any) -> dict[str, Any]:
    client = api.post("/clients", {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
                                   "country": "GB"}, role="support").data
    r = api.post("/orders", {"client_id": client["id"], "payment_method": "stripe", "currency": currency,
                             "skip_fraud_check": True, **extra,
                             "items": [{"kind": "product", "description": f"Plan {i}", "amount": a}
                                       for i, a in enumerate(amounts)]}, role="support")
    assert r.status_code == 201, r.data
    return r.data  # type: ignore[no-any-return]


def invoice_of(api: Any, order: dict[str, Any]) -> dict[str, Any]:
    return api.get(f"/invoices/{order['invoice_id']}").data  # type: ignore[no-any-return]


def payments(invoice: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(t["gateway"], t["transaction_id"], t["amount"]) for t in invoice["transactions"] if t["type"] == "payment"]


def unmatched(api: Any) -> list[dict[str, Any]]:
    r = api.get("/gateways/stripe/unmatched", role="billing")
    assert r.status_code == 200, r.data
    return r.data["events"]  # type: ignore[no-any-return]


def test_a_payment_event_sent_three_times_records_the_payment_once_and_the_invoice_is_paid(api, webhook):  # type: ignore[no-untyped-def]
    # GIVEN an order of 24.00 USD and Stripe's event of its payment
    order = new_order(api, ["24.00"])
    event = payment_intent_succeeded(order["invoice_id"], 2400, "usd", intent_id="pi_once")

    # WHEN Stripe delivers the event three times
    answers = [webhook.send(event) for _ in range(3)]

    # THEN each delivery is a 200, the first records the payment, the others change nothing
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [(a.data["outcome"], a.data["redelivered"]) for a in answers] == [
        ("recorded", False), ("recorded", True), ("recorded", True)]
    invoice = invoice_of(api, order)
    assert payments(invoice) == [("stripe", "pi_once", "24.00")]
    assert invoice["status"] == "Paid" and invoice["balance"] == "0.00"
    history = api.get(f"/orders/{order['id']}").data["history"]
    recorded = [h for h in history if h["action"] == "payment recorded"]
    assert len(recorded) == 1 and recorded[0]["actor"] == "stripe" and "pi_once" in recorded[0]["detail"]


def test_two_events_about_one_payment_record_it_once(api, webhook):  # type: ignore[no-untyped-def]
    # GIVEN two events (two ids) about one payment intent and its charge, and a third naming only the charge
    order = new_order(api, ["10.00", "5.00"])
    first = payment_intent_succeeded(order["invoice_id"], 1500, "usd", intent_id="pi_one", charge_id="ch_one")
    second = payment_intent_succeeded(order["invoice_id"], 1500, "usd", intent_id="pi_one", charge_id="ch_one")
    by_charge = payment_intent_succeeded(order["invoice_id"], 1500, "usd", intent_id="pi_other", charge_id="ch_one")
    assert first["id"] != second["id"]

    # WHEN all three arrive, the first two at the same moment (through the webhook's use case: chalice's
    # test client swaps os.environ per request, which two threads at once would leave swapped)
    def deliver(event: dict[str, Any]) -> str:
        payload = json.dumps(event)
        return stripe_events.receive(payload.encode(), signature(payload, SECRET)).outcome

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(deliver, [first, second]))
    outcomes.append(webhook.send(by_charge).data["outcome"])

    # THEN one payment is recorded; the other events say it was there already
    assert sorted(outcomes) == ["already_recorded", "already_recorded", "recorded"]
    assert payments(invoice_of(api, order)) == [("stripe", "pi_one", "15.00")]
    assert unmatched(api) == []


def test_a_payment_typed_in_before_its_event_is_not_recorded_twice(api, webhook):  # type: ignore[no-untyped-def]
    # GIVEN a payment a person recorded by hand with the payment intent's id
    order = new_order(api, ["30.00"])
    r = api.post(f"/invoices/{order['invoice_id']}/payments", {"amount": "30.00", "gateway": "stripe",
                                                                "transaction_id": "pi_typed"}, role="billing")
    assert r.status_code == 201, r.data

    # WHEN Stripe's event of it arrives
    answer = webhook.send(payment_intent_succeeded(order["invoice_id"], 3000, "usd", intent_id="pi_typed"))

    # THEN nothing more is recorded, and nothing is unmatched
    assert answer.status_code == 200 and answer.data["outcome"] == "already_recorded"
    assert payments(invoice_of(api, order)) == [("stripe", "pi_typed", "30.00")]
    assert unmatched(api) == []


def test_a_payment_intent_typed_in_on_another_invoice_is_unmatched_naming_that_invoice(api, webhook):  # type: ignore[no-untyped-def]
    # GIVEN a payment intent a person recorded by hand on one order's invoice
    first, second = new_order(api, ["30.00"]), new_order(api, ["30.00"])
    r = api.post(f"/invoices/{first['invoice_id']}/payments", {"amount": "30.00", "gateway": "stripe",
                                                                "transaction_id": "pi_elsewhere"}, role="billing")
    assert r.status_code == 201, r.data

    # WHEN Stripe's event of that payment intent names another invoice
    answer = webhook.send(payment_intent_succeeded(second["invoice_id"], 3000, "usd", intent_id="pi_elsewhere"))

    # THEN it is unmatched for billing, naming the invoice that has it; the other invoice is untouched
    assert answer.status_code == 200 and answer.data["outcome"] == "unmatched"
    assert first["invoice_id"] in answer.data["reason"]
    assert payments(invoice_of(api, second)) == [] and invoice_of(api, second)["status"] == "Unpaid"
    assert [e["object_id"] for e in unmatched(api)] == ["pi_elsewhere"]


@pytest.mark.parametrize(("currency", "amount", "units"), [("USD", "12.50", 1250), ("JPY", "1500.00", 1500),
                                                          ("KWD", "12.50", 12500)])
def test_amounts_are_converted_with_the_currencys_exponent(api, webhook, currency, amount, units):  # type: ignore[no-untyped-def]
    # GIVEN an order in the currency, and Stripe's event paying it in Stripe's minor units
    order = new_order(api, [amount], currency=currency)
    event = payment_intent_succeeded(order["invoice_id"], units, currency.lower())

    # WHEN it arrives
    answer = webhook.send(event)

    # THEN exactly the invoice's amount is recorded and the invoice is Paid
    assert answer.data["outcome"] == "recorded", answer.data
    invoice = invoice_of(api, order)
    assert payments(invoice)[0][2] == amount and invoice["status"] == "Paid"


@pytest.mark.parametrize(("currency", "amount", "wrong_units"), [("JPY", "1500.00", 150000), ("KWD", "12.50", 1250)])
def test_an_amount_read_with_two_decimals_in_another_currency_is_unmatched(api, webhook, currency, amount,  # type: ignore[no-untyped-def]
                                                                            wrong_units):
    # GIVEN an event whose amount was computed as if every currency had cents (¥150,000 for ¥1,500;
    # 1.250 KWD for 12.500): too much, or a part of what is due
    order = new_order(api, [amount], currency=currency)

    # WHEN it arrives
    answer = webhook.send(payment_intent_succeeded(order["invoice_id"], wrong_units, currency))

    # THEN nothing is recorded: it is unmatched, with the amount as Stripe meant it
    assert answer.status_code == 200 and answer.data["outcome"] == "unmatched", answer.data
    assert payments(invoice_of(api, order)) == []
    (kept,) = unmatched(api)
    assert (kept["amount"], kept["currency"]) == (str(wrong_units) if currency == "JPY" else "1.250", currency)


def test_a_three_decimal_amount_orderdesk_cannot_keep_is_unmatched_not_rounded(api, webhook):  # type: ignore[no-untyped-def]
    # GIVEN a KWD invoice of 12.35 and an event of 12.345 KWD
    order = new_order(api, ["12.35"], currency="KWD")

    # WHEN it arrives
    answer = webhook.send(payment_intent_succeeded(order["invoice_id"], 12345, "kwd"))

    # THEN it is unmatched, saying why
    assert answer.data["outcome"] == "unmatched" and "decimal places" in answer.data["reason"]
    assert payments(invoice_of(api, order)) == []


def test_events_for_an_unknown_invoice_or_a_wrong_amount_are_kept_unmatched_for_billing(api, webhook):  # type: ignore[no-untyped-def]
    # GIVEN an order of 20.00 USD
    order = new_order(api, ["20.00"])

    # WHEN events arrive for an invoice OrderDesk does not have, for another amount than the
    # balance, in another currency, and without an invoice id
    answers = [webhook.send(payment_intent_succeeded("inv-doesnotexist", 2000, "usd", intent_id="pi_unknown")),
               webhook.send(payment_intent_succeeded(order["invoice_id"], 2500, "usd", intent_id="pi_over")),
               webhook.send(payment_intent_succeeded(order["invoice_id"], 2000, "eur", intent_id="pi_eur")),
               webhook.send(payment_intent_succeeded(None, 2000, "usd", intent_id="pi_nometa"))]

    # THEN each is a 200 (Stripe must not retry it), nothing is recorded
    assert [(a.status_code, a.data["outcome"]) for a in answers] == [(200, "unmatched")] * 4
    assert payments(invoice_of(api, order)) == [] and invoice_of(api, order)["status"] == "Unpaid"
    # and billing sees all four, newest first, each with its reason
    kept = unmatched(api)
    assert [e["object_id"] for e in kept] == ["pi_nometa", "pi_eur", "pi_over", "pi_unknown"]
    reasons = {e["object_id"]: e["reason"] for e in kept}
    assert "no invoice inv-doesnotexist" in reasons["pi_unknown"]
    assert "25.00 USD is not the balance due" in reasons["pi_over"] and "(20.00 USD)" in reasons["pi_over"]
    assert "EUR" in reasons["pi_eur"] and "metadata.invoice_id" in reasons["pi_nometa"]
    # and a viewer may not read them; a page of one carries a cursor to the next
    assert api.get("/gateways/stripe/unmatched", role="support").status_code == 403
    first = api.get("/gateways/stripe/unmatched?limit=1", role="billing").data
    second = api.get(f"/gateways/stripe/unmatched?limit=1&cursor={first['next_cursor']}", role="billing").data
    assert [e["object_id"] for e in first["events"] + second["events"]] == ["pi_nometa", "pi_eur"]


def test_a_payment_for_an_invoice_already_paid_otherwise_is_unmatched(api, webhook):  # type: ignore[no-untyped-def]
    # GIVEN an invoice paid by bank transfer
    order = new_order(api, ["20.00"])
    api.post(f"/invoices/{order['invoice_id']}/payments", {"amount": "20.00", "gateway": "banktransfer",
                                                            "transaction_id": "BT-1"}, role="billing")

    # WHEN the client pays it by card as well
    answer = webhook.send(payment_intent_succeeded(order["invoice_id"], 2000, "usd", intent_id="pi_twice"))

    # THEN the card payment is unmatched (billing refunds it), the invoice unchanged
    assert answer.data["outcome"] == "unmatched" and "is Paid" in answer.data["reason"]
    assert payments(invoice_of(api, order)) == [("banktransfer", "BT-1", "20.00")]


@pytest.mark.parametrize("kind", ["forged", "stale", "unsigned", "garbled", "other secret"])
def test_a_delivery_that_is_not_stripes_is_a_400_and_nothing_is_kept(api, webhook, kind):  # type: ignore[no-untyped-def]
    # GIVEN an order and an event paying it, delivered wrongly
    order = new_order(api, ["20.00"])
    event = payment_intent_succeeded(order["invoice_id"], 2000, "usd")
    payload = json.dumps(event)

    # WHEN it arrives forged (another body under a real signature), stale (signed 6 minutes ago),
    # unsigned, with a garbled header, or signed with another secret
    if kind == "forged":
        header = signature(payload, SECRET)
        answer = webhook.send(payload.replace("2000", "1"), header=header)
    elif kind == "stale":
        answer = webhook.send(event, timestamp=int(time.time()) - 360)
    elif kind == "unsigned":
        answer = webhook.send(event, header=None)
    elif kind == "garbled":
        answer = webhook.send(event, header="t=abc,v0=nothing")
    else:
        answer = webhook.send(event, secret="whsec_someone_else")

    # THEN it is a 400 naming the header, nothing is recorded or kept
    assert answer.status_code == 400, answer.data
    assert "Stripe-Signature" in answer.data["error"]["fields"]
    assert payments(invoice_of(api, order)) == [] and unmatched(api) == []
    # and the same event, properly signed, is still new
    assert webhook.send(event).data["outcome"] == "recorded"


def test_an_event_of_another_type_is_a_200_and_ignored(api, webhook):  # type: ignore[no-untyped-def]
    # GIVEN an event OrderDesk does not act on
    event = payment_intent_succeeded("inv-x", 100, "usd")
    event["type"] = "customer.created"

    # WHEN it arrives THEN it is answered 200, ignored, and nothing is kept
    answer = webhook.send(event)
    assert answer.status_code == 200 and answer.data["outcome"] == "ignored"
    assert unmatched(api) == []


def test_without_a_signing_secret_the_webhook_answers_503_so_stripe_retries(api, client, monkeypatch):  # type: ignore[no-untyped-def]
    # GIVEN no STRIPE_WEBHOOK_SECRET
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    reset_settings()

    # WHEN an event arrives THEN it is a 503 with Retry-After, not a 400 and not a 500
    answer = Webhook(client).send(payment_intent_succeeded("inv-x", 100, "usd"), secret="whsec_x")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"


def paid_by_stripe(api: Any, webhook: Webhook, amounts: list[str], intent: str, charge: str,
                   currency: str = "USD", units: int | None = None) -> dict[str, Any]:
    order = new_order(api, amounts, currency=currency)
    due = units if units is not None else int(sum(float(a) for a in amounts) * 100)
    answer = webhook.send(payment_intent_succeeded(order["invoice_id"], due, currency, intent_id=intent,
                                                   charge_id=charge))
    assert answer.data["outcome"] == "recorded", answer.data
    return order


def refunds(invoice: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(t["transaction_id"], t["amount"], t["state"]) for t in invoice["transactions"] if t["type"] == "refund"]


def test_a_refund_made_in_stripes_dashboard_is_recorded_once_without_calling_stripe(api, webhook, workflows,  # type: ignore[no-untyped-def]
                                                                                    stripe_api):
    # GIVEN an order paid 40.00 through Stripe, and Stripe's API standing by (it must not be called)
    order = paid_by_stripe(api, webhook, ["40.00"], "pi_dash", "ch_dash")

    # WHEN 15.00 is refunded in the dashboard, its event delivered twice, then the rest (25.00)
    part = charge_refunded("pi_dash", "ch_dash", 4000, [("re_dash1", 1500)], "usd")
    answers = [webhook.send(part), webhook.send(part)]
    invoice = invoice_of(api, order)
    after_part = (invoice["status"], refunds(invoice))
    rest = charge_refunded("pi_dash", "ch_dash", 4000, [("re_dash1", 1500), ("re_dash2", 2500)], "usd")
    answers.append(webhook.send(rest))

    # THEN each refund is recorded once, as made, and Stripe was never called
    assert [a.data["outcome"] for a in answers] == ["recorded", "recorded", "recorded"]
    assert answers[1].data["redelivered"] is True
    assert after_part == ("Paid", [("re_dash1", "15.00", "done")])
    invoice = invoice_of(api, order)
    assert refunds(invoice) == [("re_dash1", "15.00", "done"), ("re_dash2", "25.00", "done")]
    payment_id = next(t["id"] for t in invoice["transactions"] if t["type"] == "payment")
    assert {t["refund_of"] for t in invoice["transactions"] if t["type"] == "refund"} == {payment_id}
    # and once everything paid is refunded, the invoice is Refunded, said in history
    assert invoice["status"] == "Refunded"
    history = api.get(f"/orders/{order['id']}").data["history"]
    assert [h["actor"] for h in history if h["action"] == "refund made in Stripe"] == ["stripe", "stripe"]
    assert stripe_api.received == []


def test_the_refund_event_of_orderdesks_own_refund_adds_nothing(api, webhook, workflows, stripe_api):  # type: ignore[no-untyped-def]
    # GIVEN an order paid through Stripe (KWD: 12.50 is 12500 fils), cancelled with refund by OrderDesk
    from tests.integration.workflow_support import wait_for_action

    order = paid_by_stripe(api, webhook, ["12.50"], "pi_own", "ch_own", currency="KWD", units=12500)
    r = api.post(f"/orders/{order['id']}/cancel", {"refund": True}, role="billing")
    assert r.status_code == 202, r.data
    assert wait_for_action(api, order["id"], r.data["action"]["id"])["status"] == "SUCCEEDED"
    (made,) = stripe_api.refunds.values()
    assert (made["payment_intent"], made["amount"]) == ("pi_own", 12500)

    # WHEN Stripe's charge.refunded of that refund arrives
    answer = webhook.send(charge_refunded("pi_own", "ch_own", 12500, [(made["id"], 12500)], "kwd"))

    # THEN it is already on the invoice: nothing more is recorded
    assert answer.data["outcome"] == "already_recorded", answer.data
    invoice = invoice_of(api, order)
    assert refunds(invoice) == [(made["id"], "12.50", "done")] and invoice["status"] == "Refunded"


def test_a_refund_event_listing_no_refunds_records_the_new_amount_once(api, webhook):  # type: ignore[no-untyped-def]
    # GIVEN an order paid through Stripe, and a charge.refunded as newer API versions send it
    # (only amount_refunded, no list of refunds)
    order = paid_by_stripe(api, webhook, ["20.00"], "pi_newer", "ch_newer")
    event = charge_refunded("pi_newer", "ch_newer", 2000, [("re_x", 500)], "usd")
    del event["data"]["object"]["refunds"]

    # WHEN it arrives twice, then a later one after more was refunded
    first, again = webhook.send(event), webhook.send(event)
    later = charge_refunded("pi_newer", "ch_newer", 2000, [("re_x", 500), ("re_y", 700)], "usd")
    del later["data"]["object"]["refunds"]
    webhook.send(later)

    # THEN 5.00 then 7.00 are recorded, each once, named by the event that told of it
    assert first.data["outcome"] == "recorded" and again.data["redelivered"] is True
    assert refunds(invoice_of(api, order)) == [(event["id"], "5.00", "done"), (later["id"], "7.00", "done")]


def test_a_refund_of_a_payment_orderdesk_does_not_have_is_unmatched(api, webhook):  # type: ignore[no-untyped-def]
    # WHEN a charge.refunded arrives for a payment no invoice has
    answer = webhook.send(charge_refunded("pi_nowhere", "ch_nowhere", 1000, [("re_1", 1000)], "usd"))

    # THEN it is kept unmatched
    assert answer.data["outcome"] == "unmatched" and "pi_nowhere" in answer.data["reason"]
    assert [e["type"] for e in unmatched(api)] == ["charge.refunded"]


@pytest.mark.parametrize(("currency", "items", "field"), [
    ("XYZ", ["10.00"], "currency"), ("usd", ["10.00"], "currency"),
    ("JPY", ["1500.50"], "items.0.amount"), ("JPY", ["1500.00", "0.01"], "items.1.amount"),
])
def test_an_order_in_a_currency_that_is_not_iso_4217_or_finer_than_it_is_a_400(api, currency, items, field):  # type: ignore[no-untyped-def]
    # GIVEN a client
    client = api.post("/clients", {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
                                   "country": "GB"}, role="support").data

    # WHEN an order is placed in a made-up currency, or for a fraction of a yen
    r = api.post("/orders", {"client_id": client["id"], "payment_method": "stripe", "currency": currency,
                             "items": [{"kind": "product", "description": "Plan", "amount": a} for a in items]},
                 role="support")

    # THEN it is a 400 naming the field, and no order exists
    assert r.status_code == 400 and field in r.data["error"]["fields"], r.data
    assert api.get("/orders").data["orders"] == []
