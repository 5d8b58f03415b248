"""InvoiceStore reads an invoice with its version; an invoice changes with its order, through the
one write path (`OrderChange.invoice`): under the version it was read at, the order's payment
status following, not while an action holds the order unless the change is that action's,
credit changes applied once."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderdesk.domain.changes import OrderChange
from orderdesk.domain.errors import ActionInProgress, ConcurrentUpdate, NotFound
from orderdesk.domain.model import CreditChange, Invoice, Order, Transaction
from orderdesk.domain.money import ZERO
from orderdesk.domain.statuses import InvoiceStatus, OrderStatus, PaymentStatus
from orderdesk.services.ports import Stores
from tests.contract.builders import LATER, client, entry, lock, place


def paid_in_full(order: Order, ref: str = "m-1") -> Invoice:
    """The order's invoice as read, with a payment of its whole balance."""
    assert order.invoice is not None
    invoice = order.invoice
    invoice.transactions.append(Transaction(id=f"t-{ref}", type="payment", gateway="manual", transaction_id=ref,
                                            amount=invoice.balance, at=LATER))
    invoice.balance, invoice.status, invoice.date_paid = ZERO, InvoiceStatus.PAID, LATER
    return invoice


def test_an_invoice_is_read_with_its_version(stores_impl: Stores) -> None:
    # GIVEN an order
    order = place(stores_impl)
    # WHEN its invoice is read on its own
    invoice = stores_impl.invoices.get_invoice(order.invoice_id)
    # THEN it is the order's invoice, at the same version
    assert invoice == order.invoice and invoice.version >= 1


def test_an_invoice_change_writes_it_moves_the_order_payment_status_and_both_versions(stores_impl: Stores) -> None:
    # GIVEN an unpaid order read whole
    order = place(stores_impl)
    assert order.invoice is not None
    version = order.invoice.version
    # WHEN its invoice is paid in full through a change of the order
    stores_impl.writes.apply(order, OrderChange(invoice=paid_in_full(order), history=[entry("payment recorded")]))
    # THEN the invoice is Paid with its transaction, at a newer version; the order and items Paid, the order's version up
    saved = stores_impl.invoices.get_invoice(order.invoice_id)
    assert (saved.status, saved.balance, saved.date_paid) == (InvoiceStatus.PAID, ZERO, LATER)
    assert [t.transaction_id for t in saved.transactions] == ["m-1"] and saved.version > version
    after = stores_impl.orders.get_order(order.id)
    assert after.payment_status is PaymentStatus.PAID and after.version > order.version
    assert all(i.payment_status is PaymentStatus.PAID for i in after.items)
    assert after.history[-1].action == "payment recorded"


def test_only_status_balance_transactions_and_date_paid_are_written(stores_impl: Stores) -> None:
    # GIVEN an invoice read, its lines and total changed by the caller as well as its payment
    order = place(stores_impl)
    assert order.invoice is not None
    lines, total = list(order.invoice.lines), order.invoice.total
    invoice = paid_in_full(order)
    invoice.lines, invoice.total = [], Decimal("1.00")
    # WHEN it is written
    stores_impl.writes.apply(order, OrderChange(invoice=invoice))
    # THEN lines and total are as they were
    saved = stores_impl.invoices.get_invoice(order.invoice_id)
    assert saved.lines == lines and saved.total == total and saved.status is InvoiceStatus.PAID


def test_an_invoice_written_on_a_stale_version_is_refused_and_writes_nothing(stores_impl: Stores) -> None:
    # GIVEN an order read whole, and a newer read of it that carries the invoice at the same version... written first
    order = place(stores_impl)
    newer = stores_impl.orders.get_order(order.id)
    stores_impl.writes.apply(newer, OrderChange(invoice=paid_in_full(newer, "m-1"), history=[entry("first")]))
    # WHEN a payment decided on the first read's invoice is written with the current order version
    current = stores_impl.orders.get_order(order.id)
    stale = paid_in_full(order, "m-2")
    # THEN ConcurrentUpdate: the invoice's version moved; neither its payment nor its history is written
    with pytest.raises(ConcurrentUpdate):
        stores_impl.writes.apply(current, OrderChange(invoice=stale, history=[entry("second")]))
    saved = stores_impl.invoices.get_invoice(order.invoice_id)
    assert [t.transaction_id for t in saved.transactions] == ["m-1"]
    assert "second" not in [h.action for h in stores_impl.orders.get_order(order.id).history]


def test_an_order_status_change_of_the_invoice_makes_an_earlier_read_stale(stores_impl: Stores) -> None:
    # GIVEN an invoice read with its order, then cancelled by a change of its order
    order = place(stores_impl)
    stores_impl.writes.apply(stores_impl.orders.get_order(order.id), OrderChange(
        to_status=OrderStatus.CANCELLED, invoice_status=InvoiceStatus.CANCELLED))
    # WHEN a payment decided on the earlier read of the invoice is written on a fresh read of the order
    # THEN ConcurrentUpdate: the invoice stays Cancelled
    with pytest.raises(ConcurrentUpdate):
        stores_impl.writes.apply(stores_impl.orders.get_order(order.id), OrderChange(invoice=paid_in_full(order)))
    assert stores_impl.invoices.get_invoice(order.invoice_id).status is InvoiceStatus.CANCELLED


def test_an_invoice_change_while_an_action_holds_the_order_is_refused_unless_it_is_the_action_s(
        stores_impl: Stores) -> None:
    # GIVEN an order an action holds, read whole
    order = place(stores_impl)
    action = lock(stores_impl, order.id, "cancel_refund")
    held = stores_impl.orders.get_order(order.id)
    # WHEN a payment is written by no action
    # THEN ActionInProgress naming the action; the invoice unchanged
    with pytest.raises(ActionInProgress) as refused:
        stores_impl.writes.apply(held, OrderChange(invoice=paid_in_full(stores_impl.orders.get_order(order.id))))
    assert refused.value.detail["action_id"] == action.id
    assert stores_impl.invoices.get_invoice(order.invoice_id).status is InvoiceStatus.UNPAID
    # WHEN a step of the action writes it
    # THEN it is written
    stores_impl.writes.apply(held, OrderChange(invoice=paid_in_full(held)), holder=action.id)
    assert stores_impl.invoices.get_invoice(order.invoice_id).status is InvoiceStatus.PAID


def test_credit_changes_are_applied_with_the_invoice_once(stores_impl: Stores) -> None:
    # GIVEN a client with 5.00 of credit and a paid order of theirs
    owner = client(credit="5.00")
    stores_impl.clients.put_client(owner)
    order = place(stores_impl, client_id=owner.id)
    stores_impl.writes.apply(order, OrderChange(invoice=paid_in_full(order)))
    paid = stores_impl.orders.get_order(order.id)
    assert paid.invoice is not None
    # WHEN its payment is refunded to credit, and the same change is applied again on the same read
    refunded = paid.invoice
    refunded.transactions.append(Transaction(id="r1", type="refund", gateway="credit", transaction_id="r-1",
                                             amount=Decimal("30.00"), at=LATER, refund_of="t-m-1"))
    refunded.status = InvoiceStatus.REFUNDED
    change = OrderChange(invoice=refunded, credit=[CreditChange(client_id=owner.id, amount=Decimal("30.00"),
                                                                reason="refund", ref="r1")])
    stores_impl.writes.apply(paid, change)
    with pytest.raises(ConcurrentUpdate):
        stores_impl.writes.apply(paid, change)
    # THEN the client's credit grew once
    assert stores_impl.clients.get_client(owner.id).credit_balance == Decimal("35.00")


def test_a_credit_change_of_an_unknown_client_refuses_the_whole_change(stores_impl: Stores) -> None:
    # GIVEN an order read whole
    order = place(stores_impl)
    # WHEN its invoice is paid with credit for a client nobody stored
    # THEN ConcurrentUpdate and nothing is written
    with pytest.raises(ConcurrentUpdate):
        stores_impl.writes.apply(order, OrderChange(invoice=paid_in_full(order), credit=[
            CreditChange(client_id="no-such-client", amount=Decimal("1.00"), reason="refund")]))
    fresh = stores_impl.orders.get_order(order.id)
    assert fresh.invoice is not None and fresh.invoice.status is InvoiceStatus.UNPAID
    assert fresh.version == order.version


def test_an_unknown_invoice_is_not_found(stores_impl: Stores) -> None:
    # GIVEN an order whose records but the order itself were deleted (a delete half done)
    order = place(stores_impl, status=OrderStatus.CANCELLED)
    stores_impl.orders.delete_order_children(order.id)
    # WHEN its invoice, an invoice of no order, or an id that is no invoice's, is read
    # THEN NotFound
    for invoice_id in (order.invoice_id, "inv-no-such-order", "not-an-invoice", "inv-"):
        with pytest.raises(NotFound):
            stores_impl.invoices.get_invoice(invoice_id)
