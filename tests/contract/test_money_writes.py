"""The money of the stores: a client's credit is a ledger (`ClientStore.change_credit`,
`credit_ledger`, and the credit changes an order's change carries), never below 0.00, its balance
the sum of its entries; a gateway's transaction id is taken by one payment across all invoices
(the one write path guards every payment an invoice gains); several invoices are read at once
(`InvoiceStore.get_invoices`)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderdesk.domain.changes import OrderChange
from orderdesk.domain.errors import DuplicateTransaction, InsufficientCredit, NotFound
from orderdesk.domain.model import CreditChange, Invoice, Order, Transaction
from orderdesk.domain.money import ZERO
from orderdesk.domain.statuses import InvoiceStatus
from orderdesk.services.ports import Stores
from tests.contract.builders import AT, LATER, client, entry, place


def adjustment(client_id: str, amount: str, reason: str = "goodwill", at: str = LATER) -> CreditChange:
    return CreditChange(client_id=client_id, amount=Decimal(amount), reason=reason, actor="billing", at=at)


def ledger_of(stores: Stores, client_id: str) -> tuple[Decimal, list[tuple[str, str]]]:
    ledger = stores.clients.credit_ledger(client_id, 100)
    assert ledger.last_key is None
    total = sum((e.amount for e in ledger.entries), ZERO)
    assert total == ledger.balance == stores.clients.get_client(client_id).credit_balance >= ZERO
    return ledger.balance, [(f"{e.amount:.2f}", e.reason) for e in ledger.entries]


def with_payment(order: Order, amount: str, gateway: str, transaction_id: str, pid: str = "p1") -> Invoice:
    """The order's invoice as read, with one more payment."""
    assert order.invoice is not None
    invoice = order.invoice
    invoice.transactions.append(Transaction(id=pid, type="payment", gateway=gateway, transaction_id=transaction_id,
                                            amount=Decimal(amount), at=LATER))
    invoice.balance -= Decimal(amount)
    return invoice


def test_a_credit_change_is_an_entry_with_the_balance_moved_by_it(stores_impl: Stores) -> None:
    # GIVEN a client with no credit
    ada = client()
    stores_impl.clients.put_client(ada)
    assert ledger_of(stores_impl, ada.id) == (ZERO, [])
    # WHEN 10.00 is given, then 4.00 taken
    given = stores_impl.clients.change_credit(adjustment(ada.id, "10.00"))
    stores_impl.clients.change_credit(adjustment(ada.id, "-4.00", "correction", at="2024-05-01T12:00:00Z"))
    # THEN each is an entry, newest first, and the balance their sum
    assert (given.amount, given.reason, given.actor) == (Decimal("10.00"), "goodwill", "billing")
    assert ledger_of(stores_impl, ada.id) == (Decimal("6.00"), [("-4.00", "correction"), ("10.00", "goodwill")])


def test_taking_more_credit_than_the_balance_holds_is_refused_and_writes_nothing(stores_impl: Stores) -> None:
    # GIVEN a client with 5.00 of credit from an adjustment, and an unpaid order of theirs
    ada = client()
    stores_impl.clients.put_client(ada)
    stores_impl.clients.change_credit(adjustment(ada.id, "5.00"))
    order = place(stores_impl, client_id=ada.id)
    # WHEN 5.01 is taken by an adjustment, or the order is paid 5.01 from credit
    with pytest.raises(InsufficientCredit) as refused:
        stores_impl.clients.change_credit(adjustment(ada.id, "-5.01"))
    assert "5.00" in refused.value.message
    with pytest.raises(InsufficientCredit):
        stores_impl.writes.apply(order, OrderChange(
            invoice=with_payment(order, "5.01", "credit", "c-1"), history=[entry("payment recorded")],
            credit=[CreditChange(client_id=ada.id, amount=Decimal("-5.01"), reason="payment", ref=order.invoice_id)]))
    # THEN nothing is written: no entry, no payment, no history, the order's version as it was
    assert ledger_of(stores_impl, ada.id) == (Decimal("5.00"), [("5.00", "goodwill")])
    fresh = stores_impl.orders.get_order(order.id)
    assert fresh.invoice is not None and fresh.invoice.transactions == [] and fresh.version == order.version
    assert "payment recorded" not in [h.action for h in fresh.history]
    # AND what the balance covers is taken, with the payment, at once
    fresh_order = stores_impl.orders.get_order(order.id)
    stores_impl.writes.apply(fresh_order, OrderChange(
        invoice=with_payment(fresh_order, "5.00", "credit", "c-2"),
        credit=[CreditChange(client_id=ada.id, amount=Decimal("-5.00"), reason="payment", ref=order.invoice_id)]))
    assert ledger_of(stores_impl, ada.id) == (ZERO, [("-5.00", "payment"), ("5.00", "goodwill")])


def test_the_credit_of_an_unknown_client_is_not_found(stores_impl: Stores) -> None:
    with pytest.raises(NotFound):
        stores_impl.clients.change_credit(adjustment("no-such-client", "1.00"))
    with pytest.raises(NotFound):
        stores_impl.clients.credit_ledger("no-such-client", 10)


def test_a_client_stored_with_a_balance_opens_its_ledger_with_it(stores_impl: Stores) -> None:
    # GIVEN a client stored with 12.50 of credit
    grace = client(first="Grace", credit="12.50")
    stores_impl.clients.put_client(grace)
    # THEN its ledger opens with it (when the client was stored), and stays so after a change
    ledger = stores_impl.clients.credit_ledger(grace.id, 10)
    assert [(e.amount, e.at) for e in ledger.entries] == [(Decimal("12.50"), AT)]
    stores_impl.clients.change_credit(adjustment(grace.id, "-2.50", "correction"))
    balance, entries = ledger_of(stores_impl, grace.id)
    assert balance == Decimal("10.00") and [amount for amount, _ in entries] == ["-2.50", "12.50"]
    assert stores_impl.clients.credit_ledger(grace.id, 10).entries[-1].at == AT  # opened when stored


def test_the_ledger_pages_newest_first_each_entry_once_the_opening_last(stores_impl: Stores) -> None:
    # GIVEN a client stored with 1.00, then five adjustments
    ada = client(credit="1.00")
    stores_impl.clients.put_client(ada)
    for n in range(5):
        stores_impl.clients.change_credit(adjustment(ada.id, f"{n + 1}.00", f"top-up {n}",
                                                     at=f"2024-05-0{n + 2}T00:00:00Z"))
    # WHEN it is read two at a time
    seen, after = [], None
    while True:
        page = stores_impl.clients.credit_ledger(ada.id, 2, after)
        assert len(page.entries) <= 3  # two, and the opening on the last page
        seen += [e.reason for e in page.entries]
        after = page.last_key
        if after is None:
            break
    # THEN every entry once, newest first, the opening balance last
    assert seen[:5] == [f"top-up {n}" for n in range(4, -1, -1)] and len(seen) == 6
    assert "opening balance" in seen[5]


def test_a_gateway_transaction_id_is_taken_by_one_payment_across_all_invoices(stores_impl: Stores) -> None:
    # GIVEN two orders, the first paid with Stripe's pi_1
    first, second = place(stores_impl), place(stores_impl)
    stores_impl.writes.apply(first, OrderChange(invoice=with_payment(first, "10.00", "stripe", "pi_1")))
    # WHEN the second is paid with the same id (the gateway in another case)
    # THEN DuplicateTransaction naming the first invoice; nothing written
    with pytest.raises(DuplicateTransaction) as refused:
        stores_impl.writes.apply(second, OrderChange(invoice=with_payment(second, "10.00", "Stripe", "pi_1"),
                                                     history=[entry("payment recorded")]))
    assert refused.value.detail["invoice_id"] == first.invoice_id
    fresh = stores_impl.orders.get_order(second.id)
    assert fresh.invoice is not None and fresh.invoice.transactions == [] and fresh.version == second.version
    # AND the same id from another gateway is another transaction
    stores_impl.writes.apply(fresh, OrderChange(invoice=with_payment(fresh, "10.00", "paypal", "pi_1")))
    # AND the first invoice written again (a refund added) takes nothing new: its payment is its own
    paid = stores_impl.orders.get_order(first.id)
    assert paid.invoice is not None
    refunded = paid.invoice
    refunded.transactions.append(Transaction(id="r1", type="refund", gateway="stripe", transaction_id="re_1",
                                             amount=Decimal("10.00"), at=LATER, refund_of="p1"))
    refunded.status = InvoiceStatus.REFUNDED
    stores_impl.writes.apply(paid, OrderChange(invoice=refunded))
    assert stores_impl.invoices.get_invoice(first.invoice_id).status is InvoiceStatus.REFUNDED


def test_several_invoices_are_read_at_once(stores_impl: Stores) -> None:
    first, second = place(stores_impl), place(stores_impl)
    found = stores_impl.invoices.get_invoices([first.invoice_id, second.invoice_id, "inv-no-such-order", "nope"])
    assert sorted(i.id for i in found) == sorted([first.invoice_id, second.invoice_id])
    assert {i.id: i for i in found}[first.invoice_id] == first.invoice
    assert stores_impl.invoices.get_invoices([]) == []
