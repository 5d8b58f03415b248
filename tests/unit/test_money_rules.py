"""The money rules as pure functions (domain.payments, domain.attention) and the two places that
read them: which payments a change adds, what a credit payment takes and its refund gives back,
confirming an owed refund once, what part paid means, and which gateways refund by API."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from orderdesk.adapters.gateways import CreditGateway, ManualGateway, StripeGateway, gateway_for
from orderdesk.adapters.store.mappers import txn_from
from orderdesk.domain.attention import PART_PAID, attention_of, part_paid
from orderdesk.domain.errors import NotFound, RefundNotOwed
from orderdesk.domain.model import ClientRef, Invoice, InvoiceLine, Order, Transaction, utcnow
from orderdesk.domain.payments import (
    REFUND_API_GATEWAYS,
    confirm_refund,
    credit_given_back,
    credit_taken,
    new_payments,
    refunds_by_api,
)
from orderdesk.domain.statuses import InvoiceStatus, OrderStatus


def txn(tid: str, kind: str = "payment", gateway: str = "banktransfer", amount: str = "10.00", **kw: str) -> Transaction:
    return Transaction(id=tid, type=kind, gateway=gateway, transaction_id=f"T-{tid}", amount=Decimal(amount),
                       at="2026-01-01T00:00:00Z", **kw)


def invoice(*transactions: Transaction, total: str = "30.00", balance: str | None = None) -> Invoice:
    paid = sum((t.amount for t in transactions if t.type == "payment"), Decimal("0.00"))
    return Invoice(id="inv-o1", client_id="c1", order_id="o1", status=InvoiceStatus.UNPAID,
                   lines=[InvoiceLine("i1", "x", Decimal(total))], subtotal=Decimal(total), discount=Decimal("0.00"),
                   tax=Decimal("0.00"), total=Decimal(total),
                   balance=Decimal(balance) if balance is not None else Decimal(total) - paid, currency="USD",
                   due_date="2026-01-01", date_paid=None, payment_method="banktransfer",
                   transactions=list(transactions),
                   stored_payment_ids=frozenset(t.id for t in transactions if t.type == "payment"))


def order(status: OrderStatus, inv: Invoice | None) -> Order:
    return Order(id="o1", number="1234567890", placed_at="2026-01-01T00:00:00Z", status=status,
                 client=ClientRef("c1", "Ada", "ada@example.com", None, "GB"), payment_method="banktransfer",
                 total=Decimal("30.00"), currency="USD", invoice_id="inv-o1", invoice=inv, detail_loaded=True)


def test_the_payments_a_change_adds_are_those_the_invoice_did_not_have_as_read():
    # GIVEN an invoice read with one payment, then changed in place: a payment and a refund added
    read = invoice(txn("p1"))
    read.transactions += [txn("p2"), txn("r1", "refund", refund_of="p1")]
    # THEN only the new payment is new (a copy keeps what was read)
    assert [t.id for t in new_payments(read)] == ["p2"]
    assert [t.id for t in new_payments(copy.deepcopy(read))] == ["p2"]


def test_a_credit_payment_takes_its_amount_and_its_refund_gives_it_back():
    inv = invoice()
    (taken,) = credit_taken(inv, txn("p1", gateway="credit", amount="12.50"), "billing@example.com")
    assert (taken.client_id, taken.amount, taken.ref, taken.actor) == ("c1", Decimal("-12.50"), "inv-o1",
                                                                       "billing@example.com")
    assert credit_taken(inv, txn("p2", gateway="stripe"), "x") == []
    back = credit_given_back("c1", inv, txn("p1", gateway="credit", amount="12.50"),
                             txn("r1", "refund", gateway="credit", amount="12.50"), "workflow")
    assert back.amount == Decimal("12.50") and back.ref == "inv-o1" and "refund" in back.reason


def test_confirming_an_owed_refund_makes_it_done_once_with_the_reference():
    # GIVEN an invoice with an owed refund and one Stripe made
    inv = invoice(txn("p1"), txn("p2", gateway="stripe"), txn("r1", "refund", refund_of="p1", state="owed"),
                  txn("r2", "refund", gateway="stripe", refund_of="p2"))
    before = copy.deepcopy(inv)
    # WHEN the owed one is confirmed
    out, refund = confirm_refund(inv, "r1", "BANK-1", "ann", "2026-02-02T00:00:00Z")
    # THEN it is done, with the reference, who and when; the invoice given is unchanged
    assert (refund.state, refund.reference, refund.transaction_id) == ("done", "BANK-1", "BANK-1")
    assert (refund.confirmed_by, refund.confirmed_at) == ("ann", "2026-02-02T00:00:00Z")
    assert out.owed_refunds() == [] and inv == before
    # AND confirming it again, a refund a gateway made, a payment or an unknown id is refused
    with pytest.raises(RefundNotOwed, match="confirmed already by ann"):
        confirm_refund(out, "r1", "BANK-2", "bob", "2026-02-03T00:00:00Z")
    with pytest.raises(RefundNotOwed, match="made by stripe"):
        confirm_refund(inv, "r2", "X", "ann", "now")
    for unknown in ("p1", "nope"):
        with pytest.raises(NotFound):
            confirm_refund(inv, unknown, "X", "ann", "now")


@pytest.mark.parametrize("status,transactions,balance,expected", [
    (OrderStatus.PENDING, [txn("p1")], "20.00", True),
    (OrderStatus.PENDING, [], "30.00", False),  # unpaid
    (OrderStatus.PENDING, [txn("p1", amount="30.00")], "0.00", False),  # paid
    (OrderStatus.PENDING, [txn("p1"), txn("r1", "refund", refund_of="p1")], "30.00", False),  # all given back
    (OrderStatus.ACTIVE, [txn("p1")], "20.00", False),  # accepted: the balance is billing's business
    (OrderStatus.CANCELLED, [txn("p1")], "20.00", False),
], ids=["part-paid", "unpaid", "paid", "refunded", "active", "cancelled"])
def test_part_paid_is_a_pending_order_holding_money_with_a_balance_due(status, transactions, balance, expected):
    o = order(status, invoice(*transactions, balance=balance))
    assert part_paid(o) is expected
    assert (PART_PAID in [a.code for a in attention_of(o, utcnow(), 24)]) is expected


def test_the_gateways_with_a_refund_api_are_those_that_refund_by_api():
    # each gateway the domain counts as refunding by API is one the adapters refund through
    for name in REFUND_API_GATEWAYS:
        assert not isinstance(gateway_for(name, client_id="c", currency="USD"), ManualGateway)
    assert isinstance(gateway_for("stripe", client_id="c", currency="USD"), StripeGateway)
    assert isinstance(gateway_for("credit", client_id="c", currency="USD"), CreditGateway)
    for name in ("manual", "banktransfer", "paypal"):
        assert not refunds_by_api(name)
        refund = gateway_for(name, client_id="c", currency="USD").refund(txn("p"), Decimal("1.00"), "k")
        assert refund.state == "owed" and refund.transaction_id == ""


def test_a_refund_stored_before_refunds_had_a_state_is_owed_unless_a_gateway_made_it():
    stored = {"id": "r1", "type": "refund", "gateway": "paypal", "transaction_id": "refund-PP-1",
              "amount": Decimal("5.00"), "at": "2025-01-01T00:00:00Z", "refund_of": "p1"}
    assert txn_from(stored).state == "owed"
    assert txn_from({**stored, "gateway": "stripe", "transaction_id": "re_1"}).state == "done"
    assert txn_from({**stored, "state": "done", "reference": "X"}).state == "done"
    assert txn_from({**stored, "type": "payment"}).state == "done"
