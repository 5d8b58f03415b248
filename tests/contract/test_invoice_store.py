"""InvoiceStore: an invoice written under its version, the order's payment status following,
not while an action holds the order when the caller says so, credit changes applied once."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderdesk.domain.changes import OrderChange
from orderdesk.domain.errors import ActionInProgress, ConcurrentUpdate, NotFound
from orderdesk.domain.model import CreditChange, Invoice, Transaction
from orderdesk.domain.money import ZERO
from orderdesk.domain.statuses import InvoiceStatus, OrderStatus, PaymentStatus
from orderdesk.services.ports import Stores
from tests.contract.builders import LATER, client, entry, lock, place


def pay_in_full(invoice: Invoice, ref: str = "m-1") -> Invoice:
    invoice.transactions.append(Transaction(id=f"t-{ref}", type="payment", gateway="manual", transaction_id=ref,
                                            amount=invoice.balance, at=LATER))
    invoice.balance, invoice.status, invoice.date_paid = ZERO, InvoiceStatus.PAID, LATER
    return invoice


def test_saving_an_invoice_writes_it_moves_the_order_payment_status_and_the_versions(stores_impl: Stores) -> None:
    # GIVEN an unpaid order's invoice read with its version
    order = place(stores_impl)
    invoice, version = stores_impl.invoices.get_invoice_versioned(order.invoice_id)
    assert invoice == order.invoice
    # WHEN it is paid in full
    stores_impl.invoices.save_invoice(pay_in_full(invoice), version, entry("payment recorded"), order_unlocked=True)
    # THEN the invoice is Paid with its transaction, a newer version; the order and items Paid, the order's version up
    saved, newer = stores_impl.invoices.get_invoice_versioned(order.invoice_id)
    assert (saved.status, saved.balance, saved.date_paid) == (InvoiceStatus.PAID, ZERO, LATER)
    assert [t.transaction_id for t in saved.transactions] == ["m-1"]
    assert newer > version and stores_impl.invoices.get_invoice(order.invoice_id) == saved
    after = stores_impl.orders.get_order(order.id)
    assert after.payment_status is PaymentStatus.PAID and after.version > order.version
    assert all(i.payment_status is PaymentStatus.PAID for i in after.items)
    assert after.history[-1].action == "payment recorded"


def test_only_status_balance_transactions_and_date_paid_are_written(stores_impl: Stores) -> None:
    # GIVEN an invoice read, its lines and total changed by the caller as well as its payment
    order = place(stores_impl)
    invoice, version = stores_impl.invoices.get_invoice_versioned(order.invoice_id)
    pay_in_full(invoice)
    invoice.lines, invoice.total = [], Decimal("1.00")
    # WHEN it is saved
    stores_impl.invoices.save_invoice(invoice, version)
    # THEN lines and total are as they were
    saved = stores_impl.invoices.get_invoice(order.invoice_id)
    assert order.invoice is not None
    assert saved.lines == order.invoice.lines and saved.total == order.invoice.total
    assert saved.status is InvoiceStatus.PAID


def test_an_invoice_saved_on_a_stale_version_is_refused_and_writes_nothing(stores_impl: Stores) -> None:
    # GIVEN an invoice read twice, the first read paid and saved
    order = place(stores_impl)
    first, version = stores_impl.invoices.get_invoice_versioned(order.invoice_id)
    second, same = stores_impl.invoices.get_invoice_versioned(order.invoice_id)
    stores_impl.invoices.save_invoice(pay_in_full(first, "m-1"), version, entry("first payment"))
    # WHEN the second read is paid and saved on the version it read
    # THEN ConcurrentUpdate; neither its payment nor its history is written
    with pytest.raises(ConcurrentUpdate):
        stores_impl.invoices.save_invoice(pay_in_full(second, "m-2"), same, entry("second payment"))
    saved = stores_impl.invoices.get_invoice(order.invoice_id)
    assert [t.transaction_id for t in saved.transactions] == ["m-1"]
    assert "second payment" not in [h.action for h in stores_impl.orders.get_order(order.id).history]


def test_an_order_status_change_of_the_invoice_makes_an_earlier_read_stale(stores_impl: Stores) -> None:
    # GIVEN an invoice read, then cancelled by a change of its order
    order = place(stores_impl)
    invoice, version = stores_impl.invoices.get_invoice_versioned(order.invoice_id)
    stores_impl.writes.apply(order, OrderChange(to_status=OrderStatus.CANCELLED,
                                                invoice_status=InvoiceStatus.CANCELLED))
    # WHEN a payment is saved on the earlier read
    # THEN ConcurrentUpdate: the invoice stays Cancelled
    with pytest.raises(ConcurrentUpdate):
        stores_impl.invoices.save_invoice(pay_in_full(invoice), version)
    assert stores_impl.invoices.get_invoice(order.invoice_id).status is InvoiceStatus.CANCELLED


def test_an_invoice_saved_while_an_action_holds_the_order_is_refused_when_it_must_be_unlocked(
        stores_impl: Stores) -> None:
    # GIVEN an order an action holds, its invoice read
    order = place(stores_impl)
    action = lock(stores_impl, order.id, "cancel_refund")
    invoice, version = stores_impl.invoices.get_invoice_versioned(order.invoice_id)
    # WHEN a payment is saved only while the order is unlocked, with and without the order's status
    # THEN ActionInProgress naming the action, both times; the invoice unchanged
    for sync in (True, False):
        with pytest.raises(ActionInProgress) as refused:
            stores_impl.invoices.save_invoice(pay_in_full(invoice), version, order_unlocked=True,
                                              sync_order_status=sync)
        assert refused.value.detail["action_id"] == action.id
    assert stores_impl.invoices.get_invoice_versioned(order.invoice_id) == (order.invoice, version)
    # WHEN a step of the action saves it (not asking for an unlocked order)
    # THEN it is written
    stores_impl.invoices.save_invoice(pay_in_full(invoice), version)
    assert stores_impl.invoices.get_invoice(order.invoice_id).status is InvoiceStatus.PAID


def test_without_the_order_status_the_order_record_is_untouched(stores_impl: Stores) -> None:
    # GIVEN an unpaid order
    order = place(stores_impl)
    invoice, version = stores_impl.invoices.get_invoice_versioned(order.invoice_id)
    # WHEN the invoice is paid without moving the order's payment status (a refund step's way)
    stores_impl.invoices.save_invoice(pay_in_full(invoice), version, sync_order_status=False)
    # THEN the order record is as it was: its payment status and version; its items are paid as the invoice is
    header = stores_impl.orders.get_order_header(order.id)
    assert (header.payment_status, header.version) == (PaymentStatus.UNPAID, order.version)
    assert [i.payment_status for i in stores_impl.orders.get_order(order.id).items] == [PaymentStatus.PAID] * 2


def test_credit_changes_are_applied_with_the_invoice_once(stores_impl: Stores) -> None:
    # GIVEN a client with 5.00 of credit and a paid order of theirs
    owner = client(credit="5.00")
    stores_impl.clients.put_client(owner)
    order = place(stores_impl, client_id=owner.id)
    invoice, version = stores_impl.invoices.get_invoice_versioned(order.invoice_id)
    stores_impl.invoices.save_invoice(pay_in_full(invoice), version)
    paid, version = stores_impl.invoices.get_invoice_versioned(order.invoice_id)
    # WHEN its payment is refunded to credit, and the same write is retried on the version it read
    refund = Transaction(id="r1", type="refund", gateway="credit", transaction_id="r-1", amount=Decimal("30.00"),
                         at=LATER, refund_of="t-m-1")
    paid.transactions.append(refund)
    paid.status = InvoiceStatus.REFUNDED
    credit = [CreditChange(client_id=owner.id, amount=Decimal("30.00"), reason="refund", ref="r1")]
    stores_impl.invoices.save_invoice(paid, version, sync_order_status=False, credit=credit)
    with pytest.raises(ConcurrentUpdate):
        stores_impl.invoices.save_invoice(paid, version, sync_order_status=False, credit=credit)
    # THEN the client's credit grew once
    assert stores_impl.clients.get_client(owner.id).credit_balance == Decimal("35.00")


def test_a_credit_change_of_an_unknown_client_refuses_the_whole_write(stores_impl: Stores) -> None:
    # GIVEN an order's invoice read
    order = place(stores_impl)
    invoice, version = stores_impl.invoices.get_invoice_versioned(order.invoice_id)
    # WHEN it is saved with credit for a client nobody stored
    # THEN ConcurrentUpdate and the invoice is unchanged
    with pytest.raises(ConcurrentUpdate):
        stores_impl.invoices.save_invoice(pay_in_full(invoice), version, credit=[
            CreditChange(client_id="no-such-client", amount=Decimal("1.00"), reason="refund")])
    assert stores_impl.invoices.get_invoice_versioned(order.invoice_id) == (order.invoice, version)


def test_an_unknown_invoice_is_not_found(stores_impl: Stores) -> None:
    # GIVEN an order whose records but the order itself were deleted (a delete half done)
    order = place(stores_impl, status=OrderStatus.CANCELLED)
    stores_impl.orders.delete_order_children(order.id)
    # WHEN its invoice, an invoice of no order, or an id that is no invoice's, is read
    # THEN NotFound
    for invoice_id in (order.invoice_id, "inv-no-such-order", "not-an-invoice", "inv-"):
        with pytest.raises(NotFound):
            stores_impl.invoices.get_invoice(invoice_id)
