"""The money rules of SPEC §7 through the API, against DynamoDB Local, the refunds made by the real
Cancel & Refund workflow (moto's Step Functions running the ASL) and Stripe's loopback stand-in:

* client credit is a ledger: every change an entry, the balance their sum and never below 0.00;
  a credit payment takes from it, its refund gives back, nothing is created from nothing;
* a gateway's transaction id is recorded once across all invoices, so it is refunded once;
* a refund through a gateway with no refund API is owed, never reported as made, until a person
  confirms it; the order needs attention meanwhile;
* a part-paid Pending order is neither unpaid nor paid: it needs attention, and the cleanup that
  cancels unpaid orders leaves it for a person;
* and the bad input of each: a clear 4xx naming the field, nothing written."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from orderdesk.adapters.store import keys
from orderdesk.adapters.store import records as r
from orderdesk.services.ports import stores
from tests.integration.workflow_support import wait_for_action

pytestmark = pytest.mark.timeout(120)


# -- helpers -------------------------------------------------------------------------------------


def new_client(api: Any, name: str = "Ada") -> str:
    r_ = api.post("/clients", {"first_name": name, "last_name": "Lovelace", "email": f"{name.lower()}@example.com",
                               "country": "GB"})
    assert r_.status_code == 201, r_.data
    return str(r_.data["id"])


def new_order(api: Any, client_id: str, *amounts: str) -> dict[str, Any]:
    """A Pending order of addons (no server: nothing to terminate), its invoice Unpaid."""
    items = [{"kind": "addon", "description": f"Addon {n}", "amount": a} for n, a in enumerate(amounts or ("20.00",))]
    r_ = api.post("/orders", {"client_id": client_id, "payment_method": "banktransfer", "items": items,
                              "skip_fraud_check": True}, role="support")
    assert r_.status_code == 201, r_.data
    return r_.data  # type: ignore[no-any-return]


def pay(api: Any, order: dict[str, Any], amount: str, gateway: str, transaction_id: str) -> Any:
    return api.post(f"/invoices/{order['invoice_id']}/payments",
                    {"amount": amount, "gateway": gateway, "transaction_id": transaction_id}, role="billing")


def adjust(api: Any, client_id: str, amount: Any, reason: Any = "goodwill", role: str = "billing") -> Any:
    return api.post(f"/clients/{client_id}/credit", {"amount": amount, "reason": reason}, role=role)


def ledger(api: Any, client_id: str, **query: Any) -> dict[str, Any]:
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    got = api.get(f"/clients/{client_id}/credit" + (f"?{qs}" if qs else ""), role="viewer")
    assert got.status_code == 200, got.data
    return got.data  # type: ignore[no-any-return]


def assert_ledger_adds_up(api: Any, client_id: str) -> dict[str, Any]:
    """The balance is the sum of the entries, never negative, and the client shows the same."""
    got = ledger(api, client_id, limit=200)
    assert got["next_cursor"] is None
    total = sum((Decimal(e["amount"]) for e in got["entries"]), Decimal("0.00"))
    assert Decimal(got["balance"]) == total >= 0, got
    assert api.get(f"/clients/{client_id}").data["credit_balance"] == got["balance"]
    return got


def invoice_of(api: Any, order: dict[str, Any]) -> dict[str, Any]:
    return api.get(f"/invoices/{order['invoice_id']}").data  # type: ignore[no-any-return]


def cancel_and_refund(api: Any, order: dict[str, Any]) -> dict[str, Any]:
    started = api.post(f"/orders/{order['id']}/cancel", {"refund": True}, role="billing")
    assert started.status_code == 202, started.data
    return wait_for_action(api, order["id"], started.data["action"]["id"])


def refunds_of(invoice: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in invoice["transactions"] if t["type"] == "refund"]


def codes(order: dict[str, Any]) -> list[str]:
    return sorted(a["code"] for a in order["attention"])


def error(resp: Any) -> tuple[int, str]:
    return resp.status_code, resp.data["error"]["code"]


# -- credit ----------------------------------------------------------------------------------------


def test_a_credit_payment_takes_its_amount_off_the_balance_and_its_refund_puts_it_back(api, workflows):  # type: ignore[no-untyped-def]
    # GIVEN a client with no credit and an unpaid order of 20.00
    client_id = new_client(api)
    order = new_order(api, client_id, "20.00")

    # WHEN the order is paid from credit the client does not have
    refused = pay(api, order, "5.00", "credit", "credit-0")
    # THEN it is refused, and nothing is written: no payment, no credit created from nothing
    assert error(refused) == (409, "insufficient_credit"), refused.data
    assert "0.00" in refused.data["error"]["message"]
    assert invoice_of(api, order)["transactions"] == [] and invoice_of(api, order)["balance"] == "20.00"
    assert ledger(api, client_id) == {"client_id": client_id, "balance": "0.00", "entries": [], "next_cursor": None}

    # WHEN billing gives the client 30.00 and the order is paid from it
    given = adjust(api, client_id, "30.00", "goodwill for the outage")
    paid = pay(api, order, "20.00", "credit", "credit-1")
    # THEN the balance is 10.00: the payment took its amount off, in an entry that names the invoice
    assert given.status_code == 201 and given.data["amount"] == "30.00", given.data
    assert paid.status_code == 201 and paid.data["status"] == "Paid", paid.data
    got = assert_ledger_adds_up(api, client_id)
    assert got["balance"] == "10.00"
    assert [(e["amount"], e["ref"]) for e in got["entries"]] == [("-20.00", order["invoice_id"]), ("30.00", None)]
    assert got["entries"][1]["reason"] == "goodwill for the outage" and got["entries"][1]["actor"]

    # WHEN the order is cancelled with refund
    done = cancel_and_refund(api, order)
    # THEN the refund puts the 20.00 back, once, as a refund made (done) by the credit gateway
    assert done["status"] == "SUCCEEDED", done
    assert {s["status"] for s in done["steps"] if s["name"].startswith("refund:")} == {"SUCCEEDED"}
    (refund,) = refunds_of(invoice_of(api, order))
    assert (refund["gateway"], refund["state"], refund["amount"]) == ("credit", "done", "20.00")
    got = assert_ledger_adds_up(api, client_id)
    assert got["balance"] == "30.00"
    assert [e["amount"] for e in got["entries"]] == ["20.00", "-20.00", "30.00"]
    assert got["entries"][0]["ref"] == order["invoice_id"] and "refund" in got["entries"][0]["reason"]


def test_negative_credit_beyond_the_balance_is_refused_and_writes_nothing(api):  # type: ignore[no-untyped-def]
    # GIVEN a client with 5.00 of credit
    client_id = new_client(api)
    assert adjust(api, client_id, "5.00").status_code == 201

    # WHEN billing takes 5.01 off it
    refused = adjust(api, client_id, "-5.01", "correction")
    # THEN 409 insufficient_credit, saying what there is; no entry, the balance unchanged
    assert error(refused) == (409, "insufficient_credit"), refused.data
    assert "5.00" in refused.data["error"]["message"]
    got = assert_ledger_adds_up(api, client_id)
    assert got["balance"] == "5.00" and len(got["entries"]) == 1

    # WHEN exactly the balance is taken off
    taken = adjust(api, client_id, "-5.00", "correction")
    # THEN it is, down to 0.00 and no further
    assert taken.status_code == 201 and taken.data["amount"] == "-5.00", taken.data
    got = assert_ledger_adds_up(api, client_id)
    assert got["balance"] == "0.00" and [e["amount"] for e in got["entries"]] == ["-5.00", "5.00"]
    assert error(adjust(api, client_id, "-0.01")) == (409, "insufficient_credit")


@pytest.mark.parametrize("amount,why", [
    (10, "not a JSON number"), (10.5, "not a JSON number"), ("ten", "decimal string"), ("1.234", "two places"),
    ("1e3", "two places"), ("", "two places"), (None, "decimal string"), ("0.00", "must not be 0.00"),
    ("-0.00", "must not be 0.00"), ("1234567890123.00", "two places"),
], ids=["int", "float", "word", "three-places", "exponent", "empty", "null", "zero", "minus-zero", "too-long"])
def test_a_credit_amount_that_is_not_money_is_a_400_naming_the_field(api, amount, why):  # type: ignore[no-untyped-def]
    # GIVEN a client
    client_id = new_client(api)
    # WHEN its credit is adjusted by something that is no amount of money
    r_ = adjust(api, client_id, amount)
    # THEN 400 naming `amount` and why; nothing written
    assert r_.status_code == 400, r_.data
    assert why in r_.data["error"]["fields"]["amount"], r_.data
    assert ledger(api, client_id)["entries"] == []


def test_credit_adjustments_check_the_reason_the_client_and_the_role(api):  # type: ignore[no-untyped-def]
    client_id = new_client(api)
    # a reason is required (and short); nothing else may come with it
    assert "reason" in adjust(api, client_id, "1.00", None).data["error"]["fields"]
    assert "reason" in adjust(api, client_id, "1.00", "").data["error"]["fields"]
    assert "reason" in adjust(api, client_id, "1.00", "x" * 201).data["error"]["fields"]
    extra = api.post(f"/clients/{client_id}/credit", {"amount": "1.00", "reason": "r", "balance": "99.00"},
                     role="billing")
    assert extra.status_code == 400 and "balance" in extra.data["error"]["fields"]
    # an unknown client: 404, for reading and for adjusting
    assert error(adjust(api, "nobody", "1.00")) == (404, "not_found")
    assert api.get("/clients/nobody/credit").status_code == 404
    # viewers read the ledger; adjusting it is billing's
    assert adjust(api, client_id, "1.00", role="viewer").status_code == 403
    assert adjust(api, client_id, "1.00", role="support").status_code == 403
    assert ledger(api, client_id)["entries"] == []


def test_an_adjustment_sent_twice_with_one_idempotency_key_is_one_entry(api):  # type: ignore[no-untyped-def]
    client_id = new_client(api)
    key = {"Idempotency-Key": "credit-adjust-0001"}
    first = api.post(f"/clients/{client_id}/credit", {"amount": "3.00", "reason": "r"}, role="billing", headers=key)
    second = api.post(f"/clients/{client_id}/credit", {"amount": "3.00", "reason": "r"}, role="billing", headers=key)
    assert first.status_code == second.status_code == 201 and first.data == second.data
    assert assert_ledger_adds_up(api, client_id)["balance"] == "3.00"


def test_the_ledger_pages_newest_first_each_entry_once(api):  # type: ignore[no-untyped-def]
    # GIVEN five adjustments
    client_id = new_client(api)
    for n in range(1, 6):
        assert adjust(api, client_id, f"{n}.00", f"top-up {n}").status_code == 201
    # WHEN the ledger is read two entries at a time
    seen, cursor = [], None
    while True:
        page = ledger(api, client_id, limit=2, **({"cursor": cursor} if cursor else {}))
        assert len(page["entries"]) <= 2
        seen += [e["reason"] for e in page["entries"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # THEN every entry once, newest first
    assert seen == [f"top-up {n}" for n in range(5, 0, -1)]
    bad = api.get(f"/clients/{client_id}/credit?cursor=forged.cursor")
    assert bad.status_code == 400 and "cursor" in bad.data["error"]["fields"]
    other = new_client(api, "Grace")
    page = ledger(api, client_id, limit=2)
    assert api.get(f"/clients/{other}/credit?cursor={page['next_cursor']}").status_code == 400


def test_a_client_stored_before_the_ledger_keeps_its_balance_as_the_opening_entry(api):  # type: ignore[no-untyped-def]
    # GIVEN a client record as it was stored before the ledger: a balance of 7.50, nothing else
    stores()  # the records bound to this test's table
    r.ClientRecord(pk=keys.client_pk("legacy1"), sk=keys.CLIENTS, gsi4pk=keys.CLIENTS, gsi4sk="old#legacy1",
                   id="legacy1", first_name="Old", last_name="Timer", email="old@example.com", country="GB",
                   credit_balance=Decimal("7.50"), created_at="2025-01-02T03:04:05Z").save()

    # WHEN its ledger is read
    got = ledger(api, "legacy1")
    # THEN its balance is the opening entry
    assert got["balance"] == "7.50"
    assert [(e["amount"], e["at"]) for e in got["entries"]] == [("7.50", "2025-01-02T03:04:05Z")]
    assert "opening balance" in got["entries"][0]["reason"]

    # WHEN credit is taken off, and given
    assert adjust(api, "legacy1", "-2.50", "correction").status_code == 201
    assert adjust(api, "legacy1", "1.00", "goodwill").status_code == 201
    # THEN the opening stays what the balance was before the first change, and it all adds up
    got = assert_ledger_adds_up(api, "legacy1")
    assert got["balance"] == "6.00" and [e["amount"] for e in got["entries"]] == ["1.00", "-2.50", "7.50"]
    stored = r.ClientRecord.get(keys.client_pk("legacy1"), keys.CLIENTS, consistent_read=True)
    assert stored.credit_opening == Decimal("7.50") and stored.ledger_opened


# -- one transaction id per gateway ------------------------------------------------------------------


def test_a_gateway_transaction_id_is_recorded_once_across_all_invoices_and_refunded_once(  # type: ignore[no-untyped-def]
        api, workflows, stripe_api):
    # GIVEN two orders of two clients, the first paid by card with pi_shared
    first = new_order(api, new_client(api), "20.00")
    second = new_order(api, new_client(api, "Grace"), "20.00")
    assert pay(api, first, "20.00", "stripe", "pi_shared").status_code == 201

    # WHEN the same Stripe payment is recorded on the second invoice (in any case of the gateway)
    again = pay(api, second, "20.00", "stripe", "pi_shared")
    shouted = pay(api, second, "20.00", "Stripe", "pi_shared")
    # THEN 409 duplicate_transaction naming the invoice that holds it; the second invoice untouched
    assert error(again) == (409, "duplicate_transaction"), again.data
    assert first["invoice_id"] in again.data["error"]["message"]
    assert error(shouted) == (409, "duplicate_transaction"), shouted.data
    assert invoice_of(api, second)["transactions"] == []
    # AND on its own invoice, a second time, too
    assert error(pay(api, first, "1.00", "stripe", "pi_shared"))[0] == 409
    # AND the same id from another gateway is another transaction
    assert pay(api, second, "20.00", "banktransfer", "pi_shared").status_code == 201

    # WHEN both orders are cancelled with refund, and the first again after back to pending
    assert cancel_and_refund(api, first)["status"] == "SUCCEEDED"
    assert cancel_and_refund(api, second)["status"] == "SUCCEEDED"
    assert api.post(f"/orders/{first['id']}/pending", role="support").status_code == 200
    assert cancel_and_refund(api, first)["status"] == "SUCCEEDED"
    # THEN Stripe refunded pi_shared exactly once, and each payment has one refund
    assert [refund["payment_intent"] for refund in stripe_api.refunds.values()] == ["pi_shared"]
    for order in (first, second):
        invoice = invoice_of(api, order)
        (payment,) = [t for t in invoice["transactions"] if t["type"] == "payment"]
        assert [t["refund_of"] for t in refunds_of(invoice)] == [payment["id"]]


# -- refunds owed ----------------------------------------------------------------------------------


def test_cancel_and_refund_of_bank_transfer_and_paypal_payments_is_owed_until_a_person_confirms(  # type: ignore[no-untyped-def]
        api, workflows, order_stream):
    # GIVEN an order of 30.00 paid 10.00 by bank transfer and 20.00 by PayPal
    order = new_order(api, new_client(api), "10.00", "20.00")
    assert pay(api, order, "10.00", "banktransfer", "BT-778").status_code == 201
    assert pay(api, order, "20.00", "paypal", "PP-991").status_code == 201

    # WHEN it is cancelled with refund
    done = cancel_and_refund(api, order)

    # THEN no refund is reported as made: each refund step says OWED, each refund is owed, with
    # no refund id of a gateway, and the history says owed, not refunded
    assert done["status"] == "SUCCEEDED", done
    assert {s["status"] for s in done["steps"] if s["name"].startswith("refund:")} == {"OWED"}
    invoice = invoice_of(api, order)
    assert invoice["status"] == "Refunded"
    owed = {t["gateway"]: t for t in refunds_of(invoice)}
    assert {g: (t["state"], t["transaction_id"], t["amount"], t["reference"]) for g, t in owed.items()} == {
        "banktransfer": ("owed", "", "10.00", None), "paypal": ("owed", "", "20.00", None)}
    got = api.get(f"/orders/{order['id']}").data
    actions = [h["action"] for h in got["history"]]
    assert actions.count("refund owed") == 2 and "payment refunded" not in actions
    # AND the order needs attention, once per refund owed, and is counted so
    assert codes(got) == ["refund_owed", "refund_owed"]
    for refund in owed.values():  # each names the refund to confirm and the payment to pay back
        assert any(refund["id"] in a["message"] for a in got["attention"]), (refund, got["attention"])
    assert any("BT-778" in a["message"] for a in got["attention"])
    order_stream.settle()
    assert {c["status"]: c["count"] for c in api.get("/order-statuses").data}["Attention"] == 1
    # AND billing lists them
    listed = api.get("/refunds?state=owed", role="billing")
    assert listed.status_code == 200, listed.data
    assert sorted((x["gateway"], x["amount"], x["payment_transaction_id"], x["order_number"], x["refund_id"])
                  for x in listed.data["refunds"]) == [
        ("banktransfer", "10.00", "BT-778", order["number"], owed["banktransfer"]["id"]),
        ("paypal", "20.00", "PP-991", order["number"], owed["paypal"]["id"])]

    # WHEN billing confirms the bank transfer paid back, with its reference
    path = f"/invoices/{order['invoice_id']}/refunds/{owed['banktransfer']['id']}/confirm"
    confirmed = api.post(path, {"reference": "BANK-OUT-1"}, role="billing")
    # THEN that refund is done, with the reference, who and when; the other is still owed
    assert confirmed.status_code == 200, confirmed.data
    refund = next(t for t in confirmed.data["transactions"] if t["id"] == owed["banktransfer"]["id"])
    assert (refund["state"], refund["reference"], refund["transaction_id"]) == ("done", "BANK-OUT-1", "BANK-OUT-1")
    assert refund["confirmed_by"] and refund["confirmed_at"]
    assert codes(api.get(f"/orders/{order['id']}").data) == ["refund_owed"]
    assert [x["gateway"] for x in api.get("/refunds", role="billing").data["refunds"]] == ["paypal"]

    # WHEN it is confirmed a second time
    before = invoice_of(api, order)
    twice = api.post(path, {"reference": "BANK-OUT-2"}, role="billing")
    # THEN 409 saying it was confirmed already, by whom; nothing changed
    assert error(twice) == (409, "refund_not_owed"), twice.data
    assert "confirmed already" in twice.data["error"]["message"]
    assert invoice_of(api, order) == before

    # WHEN the PayPal refund is confirmed too
    path = f"/invoices/{order['invoice_id']}/refunds/{owed['paypal']['id']}/confirm"
    assert api.post(path, {"reference": "PP-REFUND-7"}, role="billing").status_code == 200
    # THEN nothing is owed: no attention, an empty list, the count back to 0
    got = api.get(f"/orders/{order['id']}").data
    assert got["attention"] == [] and [h["action"] for h in got["history"]].count("refund confirmed") == 2
    assert api.get("/refunds?state=owed", role="billing").data == {"refunds": [], "next_cursor": None}
    order_stream.settle()
    assert {c["status"]: c["count"] for c in api.get("/order-statuses").data}["Attention"] == 0


def test_confirming_what_is_no_owed_refund_is_refused_and_changes_nothing(api, workflows, stripe_api):  # type: ignore[no-untyped-def]
    # GIVEN an order refunded by Stripe (a refund made, done)
    order = new_order(api, new_client(api), "20.00")
    assert pay(api, order, "20.00", "stripe", "pi_made").status_code == 201
    assert cancel_and_refund(api, order)["status"] == "SUCCEEDED"
    invoice = invoice_of(api, order)
    (payment,) = [t for t in invoice["transactions"] if t["type"] == "payment"]
    (refund,) = refunds_of(invoice)
    base = f"/invoices/{order['invoice_id']}/refunds"

    # WHEN refunds are confirmed that are not owed, unknown, or with bad input
    made = api.post(f"{base}/{refund['id']}/confirm", {"reference": "X"}, role="billing")
    unknown = api.post(f"{base}/nosuchrefund/confirm", {"reference": "X"}, role="billing")
    a_payment = api.post(f"{base}/{payment['id']}/confirm", {"reference": "X"}, role="billing")
    no_invoice = api.post("/invoices/inv-nosuchorder/refunds/x/confirm", {"reference": "X"}, role="billing")
    empty = api.post(f"{base}/{refund['id']}/confirm", {"reference": "  "}, role="billing")
    missing = api.post(f"{base}/{refund['id']}/confirm", {}, role="billing")
    support = api.post(f"{base}/{refund['id']}/confirm", {"reference": "X"}, role="support")

    # THEN each is refused with why; the invoice is as it was
    assert error(made) == (409, "refund_not_owed") and "stripe" in made.data["error"]["message"], made.data
    assert error(unknown) == (404, "not_found") and error(a_payment) == (404, "not_found")
    assert error(no_invoice) == (404, "not_found")
    assert empty.status_code == 400 and "reference" in empty.data["error"]["fields"]
    assert missing.status_code == 400 and "reference" in missing.data["error"]["fields"]
    assert support.status_code == 403
    assert invoice_of(api, order) == invoice


def test_the_refunds_list_is_billings_and_lists_only_owed_refunds(api):  # type: ignore[no-untyped-def]
    assert api.get("/refunds", role="viewer").status_code == 403
    assert api.get("/refunds", role="support").status_code == 403
    done = api.get("/refunds?state=done", role="billing")
    assert done.status_code == 400 and "state" in done.data["error"]["fields"], done.data
    assert api.get("/refunds?state=owed&cursor=forged.x", role="billing").status_code == 400
    assert api.get("/refunds", role="billing").data == {"refunds": [], "next_cursor": None}


# -- part paid ---------------------------------------------------------------------------------------


def test_a_part_paid_pending_order_needs_attention_until_it_is_paid(api):  # type: ignore[no-untyped-def]
    # GIVEN a Pending order of 15.00
    order = new_order(api, new_client(api), "15.00")
    assert codes(api.get(f"/orders/{order['id']}").data) == []
    # WHEN 5.00 of it is paid
    assert pay(api, order, "5.00", "banktransfer", "BT-part").status_code == 201
    # THEN it needs attention: part paid, saying what is paid and what is due
    got = api.get(f"/orders/{order['id']}").data
    assert codes(got) == ["part_paid"] and got["payment_status"] == "Unpaid"
    assert "5.00" in got["attention"][0]["message"] and "10.00" in got["attention"][0]["message"]
    listed = api.get("/orders?attention=true").data["orders"]
    assert [o["id"] for o in listed] == [order["id"]]
    # WHEN the rest is paid
    assert pay(api, order, "10.00", "banktransfer", "BT-rest").status_code == 201
    # THEN it needs none
    assert api.get(f"/orders/{order['id']}").data["attention"] == []


def test_cancel_unpaid_leaves_a_part_paid_order_for_a_person(api, workflows, monkeypatch):  # type: ignore[no-untyped-def]
    from orderdesk.config import reset_settings
    from orderdesk.domain.statuses import OrderStatus
    from orderdesk.services import cleanup
    from tests.integration.events_support import place

    # GIVEN cancellation of unpaid orders after 7 days, and two Pending orders placed 10 days ago,
    # one unpaid, one with part of its invoice paid
    monkeypatch.setenv("ORDER_UNPAID_CANCEL_DAYS", "7")
    reset_settings()
    unpaid = place(OrderStatus.PENDING, days_ago=10)
    part = place(OrderStatus.PENDING, days_ago=10)
    assert part.invoice is not None
    paid = pay(api, {"invoice_id": part.invoice_id}, "1.00", "banktransfer", "BT-old")
    assert paid.status_code == 201 and paid.data["status"] == "Unpaid", paid.data

    # WHEN the rule runs
    report = cleanup.run("cancel_unpaid")

    # THEN the unpaid one is cancelled; the part-paid one is skipped, with the reason, and untouched
    assert report.changed == [unpaid.id] and report.skipped == [part.id], report
    assert "part paid" in report.reasons[part.id] and "part_paid" in report.reasons[part.id]
    assert report.as_dict()["reasons"] == report.reasons
    left = stores().orders.get_order(part.id)
    assert left.status is OrderStatus.PENDING and left.pending_action is None and left.actions == []
    assert [a.code for a in left.attention] == ["part_paid"]
    action = stores().orders.get_order(unpaid.id).actions[-1]
    assert wait_for_action(api, unpaid.id, action.id)["status"] == "SUCCEEDED"
