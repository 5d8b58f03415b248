"""Invoices: read one, record a payment against it, confirm a refund owed, list the refunds owed.

The money rules themselves are written once: in `domain.payments` (what a credit payment takes,
what confirming a refund does) and in the one write path of an order's changes (a gateway's
transaction id once across all invoices; a client's credit never below 0.00)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from ..domain import payments
from ..domain.attention import REFUND_OWED as REFUND_OWED_CODE
from ..domain.changes import OrderChange
from ..domain.errors import DuplicateTransaction, NotFound, OrderNotFound, TransitionNotAllowed, ValidationFailed
from ..domain.model import (
    REFUND_OWED,
    HistoryEntry,
    Invoice,
    Order,
    Transaction,
    iso,
    new_id,
    order_id_of_invoice,
    utcnow,
)
from ..domain.money import ZERO, fmt, quantize
from ..domain.payments import credit_taken
from ..domain.queries import OrderFilter
from ..domain.statuses import InvoiceStatus
from ..retry import retry_on_conflict
from . import cursor
from .ports import stores

if TYPE_CHECKING:  # annotations only: the models (and pydantic) load with the request that carries one
    from ..schemas import PaymentIn, RefundQuery

PAYABLE = frozenset({InvoiceStatus.UNPAID, InvoiceStatus.PAYMENT_PENDING, InvoiceStatus.COLLECTIONS})


def get_invoice(invoice_id: str) -> Invoice:
    return stores().invoices.get_invoice(invoice_id)


def record_payment(invoice_id: str, cmd: PaymentIn, actor: str) -> Invoice:
    """Add a payment; the invoice becomes `Paid` when its balance reaches zero. Not while an
    action holds the order (409): a Cancel & Refund plans its refunds when it starts, so a payment
    taken while it runs would never be refunded though the invoice ends Refunded."""
    data = stores()
    order_id = order_id_of_invoice(invoice_id)
    if order_id is None:
        raise NotFound(f"invoice {invoice_id} not found")

    def record() -> Invoice:
        order = _order_of(order_id, invoice_id)
        assert order.invoice is not None
        invoice = order.invoice
        # a repeat of a payment this invoice has is a duplicate, whatever its status now (the write
        # path refuses the id on any other invoice: the rule is its guard; this is its answer first)
        if payments.recorded_payment(invoice, cmd.gateway, cmd.transaction_id) is not None:
            raise DuplicateTransaction(f"{cmd.gateway} transaction {cmd.transaction_id} is already recorded as a "
                                       f"payment on invoice {invoice.id}", invoice_id=invoice.id)
        if invoice.status not in PAYABLE:
            raise TransitionNotAllowed(
                f"invoice {invoice_id} is {invoice.status.value}; payments are taken on unpaid invoices only",
                current=invoice.status.value,
            )
        if cmd.amount > invoice.balance:
            raise ValidationFailed("payment too large", {"amount": f"exceeds the balance due ({invoice.balance})"})
        now = iso(utcnow())
        payment = Transaction(id=new_id(), type="payment", gateway=cmd.gateway, transaction_id=cmd.transaction_id,
                              amount=cmd.amount, at=now)
        invoice.transactions.append(payment)
        invoice.balance = quantize(invoice.balance - cmd.amount)
        before = invoice.status
        if invoice.balance == ZERO:
            invoice.status = InvoiceStatus.PAID
            invoice.date_paid = now
        history = HistoryEntry(at=now, actor=actor, action="payment recorded", from_=before.value,
                               to=invoice.status.value,
                               detail=f"{cmd.amount} {invoice.currency} via {cmd.gateway} ({cmd.transaction_id})",
                               amount=cmd.amount, currency=invoice.currency)
        # the write refuses a transaction id its gateway has recorded already (on any invoice) and a
        # credit payment the client's balance does not cover, each with why (409)
        data.writes.apply(order, OrderChange(invoice=invoice, credit=credit_taken(invoice, payment, actor),
                                             history=[history]))
        return invoice

    return retry_on_conflict(record)


def confirm_refund(invoice_id: str, refund_id: str, reference: str, actor: str) -> Invoice:
    """An owed refund paid back by a person: `done`, with their reference, who and when, and the
    order's attention list recomputed in the same write. Once: a refund done already is a 409
    saying by whom (or by which gateway); an id that is no refund of the invoice, a 404."""
    data = stores()
    order_id = order_id_of_invoice(invoice_id)
    if order_id is None:
        raise NotFound(f"invoice {invoice_id} not found")

    def confirm() -> Invoice:
        order = _order_of(order_id, invoice_id)
        assert order.invoice is not None
        now = iso(utcnow())
        invoice, refund = payments.confirm_refund(order.invoice, refund_id, reference, actor, now)
        history = HistoryEntry(at=now, actor=actor, action="refund confirmed", from_=REFUND_OWED, to=refund.state,
                               detail=f"{fmt(refund.amount)} {invoice.currency} paid back by {refund.gateway}, "
                                      f"reference {reference} (refund {refund.id})",
                               amount=refund.amount, currency=invoice.currency)
        data.writes.apply(order, OrderChange(invoice=invoice, history=[history]))
        return invoice

    return retry_on_conflict(confirm)


@dataclass(frozen=True)
class OwedRefund:
    """A refund recorded but not yet paid back, with what a person needs to pay it."""

    refund_id: str
    invoice_id: str
    order_id: str
    order_number: str
    client_id: str
    client_name: str
    gateway: str
    payment_transaction_id: str | None
    refund_of: str | None
    amount: Decimal
    currency: str
    at: str


@dataclass
class OwedRefundList:
    refunds: list[OwedRefund]
    next_cursor: str | None


def list_owed_refunds(query: RefundQuery) -> OwedRefundList:
    """The refunds owed, from the orders whose attention list says `refund_owed`: the sparse
    `by_attention` index filtered to that code (never a scan), newest order first, a page of
    orders at a time; then their invoices in one batch read."""
    data = stores()
    f = OrderFilter(attention=True, attention_code=REFUND_OWED_CODE)
    fp = cursor.fingerprint({"refunds": query.state})
    after = cursor.decode(query.cursor, fp) if query.cursor else None
    page = data.orders.list_orders(f, query.limit, after)
    invoices = {inv.id: inv for inv in data.invoices.get_invoices(o.invoice_id for o in page.orders)}
    found: list[OwedRefund] = []
    for order in page.orders:
        invoice = invoices.get(order.invoice_id)
        if invoice is None:  # deleted since the index was read
            continue
        for refund in invoice.owed_refunds():
            paid = next((t for t in invoice.transactions if t.id == refund.refund_of), None)
            found.append(OwedRefund(
                refund_id=refund.id, invoice_id=order.invoice_id, order_id=order.id, order_number=order.number,
                client_id=order.client.id, client_name=order.client.name, gateway=refund.gateway,
                payment_transaction_id=paid.transaction_id if paid else None, refund_of=refund.refund_of,
                amount=refund.amount, currency=order.currency, at=refund.at))
    return OwedRefundList(refunds=found,
                          next_cursor=cursor.encode(page.last_sort_key, fp) if page.last_sort_key else None)


def _order_of(order_id: str, invoice_id: str) -> Order:
    """The invoice's order, read whole (a change of its invoice recomputes its attention list)."""
    try:
        order = stores().orders.get_order(order_id)
    except OrderNotFound as exc:
        raise NotFound(f"invoice {invoice_id} not found") from exc
    if order.invoice is None:
        raise NotFound(f"invoice {invoice_id} not found")
    return order
