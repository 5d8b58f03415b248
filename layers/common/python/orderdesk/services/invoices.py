"""Invoices: read one, record a payment against it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..domain.changes import OrderChange
from ..domain.errors import DuplicateTransaction, NotFound, OrderNotFound, TransitionNotAllowed, ValidationFailed
from ..domain.model import HistoryEntry, Invoice, Transaction, iso, new_id, order_id_of_invoice, utcnow
from ..domain.money import ZERO, quantize
from ..domain.statuses import InvoiceStatus
from ..retry import retry_on_conflict
from .ports import stores

if TYPE_CHECKING:  # annotations only: the models (and pydantic) load with the request that carries one
    from ..schemas import PaymentIn

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
        try:
            order = data.orders.get_order(order_id)
        except OrderNotFound as exc:
            raise NotFound(f"invoice {invoice_id} not found") from exc
        if order.invoice is None:
            raise NotFound(f"invoice {invoice_id} not found")
        invoice = order.invoice
        if any(t.type == "payment" and t.gateway == cmd.gateway and t.transaction_id == cmd.transaction_id
               for t in invoice.transactions):
            raise DuplicateTransaction(
                f"payment {cmd.transaction_id} from {cmd.gateway} is already recorded on invoice {invoice_id}"
            )
        if invoice.status not in PAYABLE:
            raise TransitionNotAllowed(
                f"invoice {invoice_id} is {invoice.status.value}; payments are taken on unpaid invoices only",
                current=invoice.status.value,
            )
        if cmd.amount > invoice.balance:
            raise ValidationFailed("payment too large", {"amount": f"exceeds the balance due ({invoice.balance})"})
        now = iso(utcnow())
        invoice.transactions.append(
            Transaction(id=new_id(), type="payment", gateway=cmd.gateway, transaction_id=cmd.transaction_id,
                        amount=cmd.amount, at=now)
        )
        invoice.balance = quantize(invoice.balance - cmd.amount)
        before = invoice.status
        if invoice.balance == ZERO:
            invoice.status = InvoiceStatus.PAID
            invoice.date_paid = now
        history = HistoryEntry(at=now, actor=actor, action="payment recorded", from_=before.value,
                               to=invoice.status.value,
                               detail=f"{cmd.amount} {invoice.currency} via {cmd.gateway} ({cmd.transaction_id})",
                               amount=cmd.amount, currency=invoice.currency)
        data.writes.apply(order, OrderChange(invoice=invoice, history=[history]))
        return invoice

    return retry_on_conflict(record)
