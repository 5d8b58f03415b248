"""AUTO_ACCEPT=paid (SPEC §9): the table's stream (read by the order stream's handler, as its event
source mapping does) starts the real Accept workflow (moto running the ASL, steps in-process)
when an order's invoice becomes Paid, once, never for a flagged order or one whose fraud check
did not pass, and never twice under a racing manual Accept."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from infra.local.stripe_event import payment_intent_succeeded, signature
from orderdesk.config import reset_settings
from orderdesk.domain.model import ClientRef, FraudCheck, Order
from orderdesk.domain.statuses import OrderStatus, PaymentStatus
from orderdesk.services.projections.auto_accept import why_not
from tests.integration.workflow_support import wait_for_action

SECRET = "whsec_test_auto_accept_0123456789"


@pytest.fixture()
def auto_accept(monkeypatch: pytest.MonkeyPatch, workflows: Any) -> None:
    monkeypatch.setenv("AUTO_ACCEPT", "paid")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    reset_settings()
    yield
    reset_settings()


def new_order(api: Any, *, skip_fraud_check: bool = True) -> dict[str, Any]:
    client = api.post("/clients", {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.org",
                                   "country": "US"}, role="support").data
    r = api.post("/orders", {"client_id": client["id"], "payment_method": "stripe",
                             "skip_fraud_check": skip_fraud_check,
                             "items": [{"kind": "product", "description": "VPS 2GB", "amount": "15.00"}]},
                 role="support")
    assert r.status_code == 201, r.data
    return r.data  # type: ignore[no-any-return]


def pay_by_hand(api: Any, order: dict[str, Any]) -> None:
    r = api.post(f"/invoices/{order['invoice_id']}/payments", {"amount": order["total"], "gateway": "banktransfer",
                                                                "transaction_id": f"BT-{order['id']}"}, role="billing")
    assert r.status_code == 201, r.data


def accepts(api: Any, order_id: str) -> list[dict[str, Any]]:
    """The Accept actions of the order (from its history's starts), oldest first."""
    history = api.get(f"/orders/{order_id}").data["history"]
    return [h for h in reversed(history) if h["action"] == "accept started"]


def test_an_order_paid_through_stripe_is_accepted_by_automation_once(api, client, workflows, order_stream,  # type: ignore[no-untyped-def]
                                                                      auto_accept):
    # GIVEN a Pending order whose screening was skipped
    order = new_order(api)

    # WHEN Stripe's event of its payment arrives and the stream is read (twice: a redelivery)
    payload = json.dumps(payment_intent_succeeded(order["invoice_id"], 1500, "usd"))
    r = client.http.request("POST", "/gateways/stripe/webhook", body=payload.encode(), headers={
        "Content-Type": "application/json", "Stripe-Signature": signature(payload, SECRET)})
    assert r.status_code == 200, r.body
    order_stream.settle()
    order_stream.settle()

    # THEN one Accept was started by `automation` with the default choices, and it made the order Active
    (started,) = accepts(api, order["id"])
    assert started["actor"] == "automation"
    action_id = started["execution"].rsplit("-", 1)[-1]
    done = wait_for_action(api, order["id"], action_id)
    assert done["status"] == "SUCCEEDED", done
    got = api.get(f"/orders/{order['id']}").data
    assert got["status"] == "Active" and got["invoice"]["status"] == "Paid"
    assert [s["name"] for s in done["steps"]][-2:] == ["welcome_email", "activate_order"]
    # and the stream of the accept's own changes starts nothing more
    order_stream.settle()
    assert len(accepts(api, order["id"])) == 1


def test_without_auto_accept_a_paid_order_waits_for_a_person(api, workflows, order_stream, monkeypatch):  # type: ignore[no-untyped-def]
    # GIVEN AUTO_ACCEPT unset (never, the default)
    monkeypatch.delenv("AUTO_ACCEPT", raising=False)
    reset_settings()
    order = new_order(api)

    # WHEN it is paid and the stream read
    pay_by_hand(api, order)
    order_stream.settle()

    # THEN it stays Pending, with no Accept
    assert api.get(f"/orders/{order['id']}").data["status"] == "Pending"
    assert accepts(api, order["id"]) == []


def test_a_payment_typed_in_triggers_it_too_and_a_racing_manual_accept_makes_one_accept(  # type: ignore[no-untyped-def]
        api, workflows, order_stream, auto_accept):
    # GIVEN several Pending orders, each paid by hand
    orders = [new_order(api) for _ in range(4)]
    for order in orders:
        pay_by_hand(api, order)

    # WHEN, for each, a person presses Accept while the stream is read (its trigger starts one too)
    def manual(order: dict[str, Any]) -> int:
        return int(api.post(f"/orders/{order['id']}/accept", {"send_welcome_email": False}, role="support").status_code)

    # (the requests from this thread alone: chalice's test client swaps os.environ per request,
    # which two threads at once would leave swapped)
    with ThreadPoolExecutor(1) as pool:
        streamed = pool.submit(order_stream.settle)
        answers = [manual(order) for order in orders]
        streamed.result()
    order_stream.settle()

    # THEN every order has exactly one Accept, by whichever won; the other got a 409 or did nothing
    assert set(answers) <= {202, 409}
    for order, answer in zip(orders, answers, strict=True):
        started = accepts(api, order["id"])
        assert len(started) == 1, started
        assert (started[0]["actor"] == "automation") == (answer == 409), (answer, started)
        action_id = started[0]["execution"].rsplit("-", 1)[-1]
        assert wait_for_action(api, order["id"], action_id)["status"] == "SUCCEEDED"
        assert api.get(f"/orders/{order['id']}").data["status"] == "Active"


def test_a_flagged_order_is_never_accepted_automatically(api, workflows, order_stream, auto_accept, monkeypatch):  # type: ignore[no-untyped-def]
    # GIVEN an order whose screening flagged it for review (every score is a review here)
    monkeypatch.setenv("FRAUD_REVIEW_THRESHOLD", "0")
    reset_settings()
    order = new_order(api, skip_fraud_check=False)
    check = api.post(f"/orders/{order['id']}/fraud-check", role="support").data
    assert check["decision"] == "review"
    assert api.get(f"/orders/{order['id']}").data["flagged_for_review"] is True

    # WHEN it is paid and the stream read
    pay_by_hand(api, order)
    order_stream.settle()

    # THEN it stays Pending for a person
    assert api.get(f"/orders/{order['id']}").data["status"] == "Pending"
    assert accepts(api, order["id"]) == []


def test_an_order_paid_before_its_screening_is_accepted_when_the_screening_passes(  # type: ignore[no-untyped-def]
        api, workflows, order_stream, auto_accept):
    # GIVEN an order to be screened, paid before the screening ran
    order = new_order(api, skip_fraud_check=False)
    pay_by_hand(api, order)
    order_stream.settle()
    assert accepts(api, order["id"]) == []  # not screened yet: it waits

    # WHEN the screening runs and passes, and the stream is read
    assert api.post(f"/orders/{order['id']}/fraud-check", role="support").data["decision"] == "accept"
    order_stream.settle()

    # THEN it is accepted by automation
    (started,) = accepts(api, order["id"])
    assert started["actor"] == "automation"
    assert wait_for_action(api, order["id"], started["execution"].rsplit("-", 1)[-1])["status"] == "SUCCEEDED"


def order_with(**fields: Any) -> Order:
    base: dict[str, Any] = {"id": "o1", "number": "1000000001", "placed_at": "2026-01-01T00:00:00Z",
                            "status": OrderStatus.PENDING, "payment_method": "stripe",
                            "client": ClientRef(id="c1", name="A B", email="a@example.com", company=None, country="GB"),
                            "total": 0, "currency": "USD", "invoice_id": "inv-o1", "payment_status": PaymentStatus.PAID}
    return Order(**{**base, **fields})


def check(decision: str) -> FraudCheck:
    return FraudCheck(provider="rules", score=0, decision=decision, signals=[], checked_at="2026-01-01T00:00:00Z")


@pytest.mark.parametrize(("fields", "expected"), [
    ({"fraud_check": check("accept")}, None),
    ({"skip_fraud_check": True}, None),
    ({"fraud_check": check("error")}, "its fraud check decided error"),
    ({"fraud_check": check("reject")}, "its fraud check decided reject"),
    ({"fraud_check": check("review"), "flagged_for_review": True}, "it is flagged for review"),
    ({"fraud_check": check("accept"), "flagged_for_review": True}, "it is flagged for review"),
    ({}, "its fraud check has not run yet"),
    ({"fraud_check": check("accept"), "payment_status": PaymentStatus.UNPAID}, "its invoice is not paid"),
    ({"fraud_check": check("accept"), "status": OrderStatus.FRAUD}, "it is Fraud"),
])
def test_only_a_pending_paid_unflagged_order_whose_screening_passed_or_was_skipped_is_accepted(fields, expected):  # type: ignore[no-untyped-def]
    # GIVEN an order in each state WHEN asked THEN only those are accepted, the others say why not
    assert why_not(order_with(**fields)) == expected
