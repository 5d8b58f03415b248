"""Stripe's webhook in the running local stack (`make run`): events signed with the secret the stack
wrote to its data directory, sent over HTTP as Stripe sends them (`infra.local.stripe_event`, what
`make stripe-event` runs); Cancel & Refund of a Stripe payment answered by the stack's own Stripe
stand-in with no key; and, in a stack started with AUTO_ACCEPT=paid, a demo order paid through
Stripe becoming Active within seconds."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local.env import LOCAL_STRIPE_API_KEY
from infra.local.stripe_event import charge_refunded, payment_intent_succeeded, send, signature
from tests.e2e.stack_fixture import RunningStack, running_stack, wait_for


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def secret_of(stack: RunningStack) -> str:
    return (stack.data_dir / "stripe-webhook.secret").read_text().strip()


def api(stack: RunningStack, method: str, path: str, body: Any = None, role: str = "admin") -> Any:
    r = requests.request(method, f"{stack.url}{path}", json=body, headers=bearer(stack.token(role)), timeout=30)
    assert r.status_code < 300, (method, path, r.status_code, r.text)
    return r.json() if r.text else None


def new_order(stack: RunningStack, amount: str = "24.00") -> dict[str, Any]:
    client = api(stack, "POST", "/clients", {"first_name": "Mary", "last_name": "Jackson",
                                             "email": "mary@example.com", "country": "US"})
    return api(stack, "POST", "/orders", {  # type: ignore[no-any-return]
        "client_id": client["id"], "payment_method": "stripe", "skip_fraud_check": True,
        "items": [{"kind": "product", "description": "Business Hosting", "amount": amount}]})


def stand_in_refunds(stack: RunningStack) -> list[dict[str, Any]]:
    """What the stack's Stripe stand-in refunded (Stripe's GET /v1/refunds)."""
    request = urllib.request.Request(f"{stack.state['stripe']}/v1/refunds", headers=bearer(LOCAL_STRIPE_API_KEY))
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - the stack's loopback stand-in
        return json.loads(answer.read())["data"]  # type: ignore[no-any-return]


def stripe_transactions(stack: RunningStack, invoice_id: str) -> list[tuple[str, str, str]]:
    invoice = api(stack, "GET", f"/invoices/{invoice_id}")
    return [(t["type"], t["transaction_id"], t["amount"]) for t in invoice["transactions"]]


def test_payments_are_recorded_once_and_a_dashboard_refund_once_without_calling_stripe(
        local_stack: RunningStack) -> None:
    # GIVEN an order of 24.00, the stack's webhook secret, and Stripe's event of the order's payment
    order = new_order(local_stack)
    secret = secret_of(local_stack)
    event = payment_intent_succeeded(order["invoice_id"], 2400, "usd", intent_id="pi_e2e", charge_id="ch_e2e")
    other = payment_intent_succeeded(order["invoice_id"], 2400, "usd", intent_id="pi_e2e", charge_id="ch_e2e")

    # WHEN the event is sent three times, and another event about the same charge once
    answers = [send(local_stack.url, e, secret) for e in (event, event, event, other)]

    # THEN every delivery is a 200 and the payment is on the invoice once, which is Paid
    assert [status for status, _ in answers] == [200] * 4
    assert [a["outcome"] for _, a in answers] == ["recorded", "recorded", "recorded", "already_recorded"]
    assert stripe_transactions(local_stack, order["invoice_id"]) == [("payment", "pi_e2e", "24.00")]
    assert api(local_stack, "GET", f"/invoices/{order['invoice_id']}")["status"] == "Paid"

    # WHEN 24.00 is refunded in Stripe's dashboard and its charge.refunded sent twice
    refunded_before = len(stand_in_refunds(local_stack))
    refund = charge_refunded("pi_e2e", "ch_e2e", 2400, [("re_dashboard_e2e", 2400)], "usd")
    assert [send(local_stack.url, refund, secret)[0] for _ in range(2)] == [200, 200]

    # THEN the refund is recorded once and the invoice is Refunded; OrderDesk asked Stripe for nothing
    assert stripe_transactions(local_stack, order["invoice_id"]) == [
        ("payment", "pi_e2e", "24.00"), ("refund", "re_dashboard_e2e", "24.00")]
    assert api(local_stack, "GET", f"/invoices/{order['invoice_id']}")["status"] == "Refunded"
    assert len(stand_in_refunds(local_stack)) == refunded_before


@pytest.mark.parametrize("kind", ["forged", "stale", "unsigned"])
def test_forged_stale_and_unsigned_events_are_400s_and_nothing_is_stored(local_stack: RunningStack,
                                                                          kind: str) -> None:
    # GIVEN an order and an event paying it
    order = new_order(local_stack)
    event = payment_intent_succeeded(order["invoice_id"], 2400, "usd")
    payload = json.dumps(event)
    headers = {"Content-Type": "application/json"}
    if kind == "forged":  # a real signature of another body
        headers["Stripe-Signature"] = signature(json.dumps({**event, "id": "evt_other"}), secret_of(local_stack))
    elif kind == "stale":  # signed seven minutes ago
        headers["Stripe-Signature"] = signature(payload, secret_of(local_stack), int(time.time()) - 420)
    unmatched_before = api(local_stack, "GET", "/gateways/stripe/unmatched?limit=100", role="billing")["events"]

    # WHEN it is sent
    r = requests.post(f"{local_stack.url}/gateways/stripe/webhook", data=payload, headers=headers, timeout=30)

    # THEN it is a 400 naming the header, and nothing was recorded or kept
    assert r.status_code == 400, r.text
    assert "Stripe-Signature" in r.json()["error"]["fields"]
    assert stripe_transactions(local_stack, order["invoice_id"]) == []
    assert api(local_stack, "GET", "/gateways/stripe/unmatched?limit=100", role="billing")["events"] == \
        unmatched_before


def test_an_event_for_an_unknown_invoice_is_kept_unmatched_for_billing(local_stack: RunningStack) -> None:
    # WHEN Stripe sends a payment for an invoice OrderDesk does not have
    event = payment_intent_succeeded("inv-nosuchinvoice", 999, "usd", intent_id="pi_unknown_e2e")
    status, answer = send(local_stack.url, event, secret_of(local_stack))

    # THEN it is a 200 (Stripe stops retrying), kept unmatched, and billing sees it
    assert (status, answer["outcome"]) == (200, "unmatched")
    listed = api(local_stack, "GET", "/gateways/stripe/unmatched", role="billing")["events"]
    assert listed[0]["id"] == event["id"] and listed[0]["amount"] == "9.99"
    assert "no invoice inv-nosuchinvoice" in listed[0]["reason"]


def test_cancel_and_refund_of_a_stripe_payment_works_with_no_stripe_key(local_stack: RunningStack) -> None:
    # GIVEN an order paid through Stripe's webhook (the stack runs with no Stripe account)
    order = new_order(local_stack, "31.00")
    send(local_stack.url, payment_intent_succeeded(order["invoice_id"], 3100, "usd", intent_id="pi_cancel_e2e"),
         secret_of(local_stack))

    # WHEN billing cancels it with refund
    action = api(local_stack, "POST", f"/orders/{order['id']}/cancel", {"refund": True}, role="billing")["action"]
    done = wait_for(lambda: (a := api(local_stack, "GET", f"/orders/{order['id']}/actions/{action['id']}"))
                    ["status"] != "RUNNING" and a, timeout=30, what="Cancel & Refund finished")

    # THEN the stack's Stripe stand-in made the refund and the invoice records it
    assert done["status"] == "SUCCEEDED", done
    made = next(r for r in stand_in_refunds(local_stack) if r["payment_intent"] == "pi_cancel_e2e")
    assert made["amount"] == 3100
    assert ("refund", made["id"], "31.00") in stripe_transactions(local_stack, order["invoice_id"])


@pytest.fixture(scope="module")
def auto_accept_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A second stack, started as `AUTO_ACCEPT=paid make run` is."""
    with running_stack(Path(tmp_path_factory.mktemp("auto-accept-stack")), env={"AUTO_ACCEPT": "paid"}) as stack:
        yield stack


def test_with_auto_accept_a_demo_order_paid_through_stripe_is_active_within_seconds(
        auto_accept_stack: RunningStack) -> None:
    stack = auto_accept_stack
    # GIVEN a Pending, unpaid demo order whose product is provisioned by hand (no server to reach)
    pending = api(stack, "GET", "/orders?status=Pending&payment_status=Unpaid&limit=100")["orders"]
    candidates = [api(stack, "GET", f"/orders/{o['id']}") for o in pending]
    order = next(o for o in candidates if all(i.get("module") in (None, "none") for i in o["items"])
                 and not o["flagged_for_review"])
    invoice = api(stack, "GET", f"/invoices/{order['invoice_id']}")

    # WHEN Stripe's payment_intent.succeeded for its invoice's balance arrives, signed
    units = int(round(float(invoice["balance"]) * 100))
    sent_at = time.monotonic()
    status, answer = send(stack.url, payment_intent_succeeded(invoice["id"], units, "usd"), secret_of(stack))
    assert (status, answer["outcome"]) == (200, "recorded"), answer

    # THEN within seconds it is Paid and Active, accepted by automation, as its history shows
    def active() -> dict[str, Any] | None:
        got = api(stack, "GET", f"/orders/{order['id']}")
        return got if got["status"] == "Active" else None

    got = wait_for(active, timeout=30, what="the paid demo order Active")
    took = time.monotonic() - sent_at
    assert got["invoice"]["status"] == "Paid" and took < 30
    actions = [(h["actor"], h["action"]) for h in got["history"]]
    assert ("stripe", "payment recorded") in actions and ("automation", "accept started") in actions
    print(f"paid to Active in {took:.1f} s")
