"""Invoices, read; and what recording a payment adds to its transaction. An invoice changes with
its order, through `order_writes` (`OrderChange.invoice`), so the order's payment status and
attention list move with it in one transaction.

A gateway's transaction id is taken once across all invoices: the transaction that records a
payment puts a guard record for (gateway, transaction id) only if there is none (`guard_op`); a
second payment with that id, on whichever invoice, is refused with the invoice holding it."""

from __future__ import annotations

from collections.abc import Iterable

from pynamodb.constants import ALL_OLD
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from ...domain.errors import DuplicateTransaction, NotFound
from ...domain.model import Invoice, Transaction, order_id_of_invoice
from . import keys, mappers
from . import records as r
from .table import TxOp, refused_item, translated


@translated
class Invoices:
    def get_invoice(self, invoice_id: str) -> Invoice:
        order_id = order_id_of_invoice(invoice_id)
        if order_id is None:
            raise NotFound(f"invoice {invoice_id} not found")
        try:
            rec = r.InvoiceRecord.get(keys.order_pk(order_id), keys.INVOICE_SK, consistent_read=True)
        except DoesNotExist as exc:
            raise NotFound(f"invoice {invoice_id} not found") from exc
        return mappers.invoice_from(rec)

    def get_invoices(self, invoice_ids: Iterable[str]) -> list[Invoice]:
        """Several invoices in one BatchGetItem round (those that exist), in no particular order."""
        order_ids = {oid for oid in (order_id_of_invoice(i) for i in invoice_ids) if oid is not None}
        return [mappers.invoice_from(rec) for rec in r.InvoiceRecord.batch_get(
            [(keys.order_pk(oid), keys.INVOICE_SK) for oid in sorted(order_ids)], consistent_read=True)]


def guard_op(invoice: Invoice, payment: Transaction) -> TxOp:
    """The guard of a payment's (gateway, transaction id), put with the payment, only if absent."""
    def op(tx: TransactWrite) -> None:
        tx.save(r.PaymentGuardRecord(pk=keys.payment_guard_pk(payment.gateway, payment.transaction_id),
                                     sk=keys.PAYMENT_GUARD_SK, gateway=payment.gateway,
                                     transaction_id=payment.transaction_id, invoice_id=invoice.id,
                                     payment_id=payment.id, at=payment.at),
                condition=r.PaymentGuardRecord.pk.does_not_exist(), return_values=ALL_OLD)

    return op


def duplicate_refusal(exc: TransactWriteError) -> DuplicateTransaction | None:
    """A transaction refused because a payment's transaction id is taken: by which invoice."""
    for reason in exc.cancellation_reasons or []:
        item = refused_item(reason, keys.PAYMENT_GUARD_SK)
        if item is not None:
            gateway, txn, invoice = (item.get(name, {}).get("S", "?") for name in
                                     ("gateway", "transaction_id", "invoice_id"))
            return DuplicateTransaction(f"{gateway} transaction {txn} is already recorded as a payment on "
                                        f"invoice {invoice}", invoice_id=invoice)
    return None
