"""Invoices: read one, write its status, balance and transactions under its version guard. The
order's copy of the payment status moves in the same transaction (`order_writes`)."""

from __future__ import annotations

from collections.abc import Iterable

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.update import Action

from ...domain.errors import ConcurrentUpdate, NotFound
from ...domain.model import CreditChange, HistoryEntry, Invoice, order_id_of_invoice
from . import keys, mappers
from . import records as r
from .clients import credit_op
from .order_writes import OrderWrites
from .table import condition_failed, conflicted, transaction, translated


@translated
class Invoices:
    def __init__(self, shards: int) -> None:
        self.writes = OrderWrites(shards)

    def get_invoice(self, invoice_id: str) -> Invoice:
        return self.get_invoice_versioned(invoice_id)[0]

    def get_invoice_versioned(self, invoice_id: str) -> tuple[Invoice, int]:
        order_id = order_id_of_invoice(invoice_id)
        if order_id is None:
            raise NotFound(f"invoice {invoice_id} not found")
        try:
            rec = r.InvoiceRecord.get(keys.order_pk(order_id), keys.INVOICE_SK, consistent_read=True)
        except DoesNotExist as exc:
            raise NotFound(f"invoice {invoice_id} not found") from exc
        return mappers.invoice_from(rec), int(rec.version or 0)

    def save_invoice(self, invoice: Invoice, version: int, history: HistoryEntry | None = None, *,
                     sync_order_status: bool = True, order_unlocked: bool = False,
                     credit: Iterable[CreditChange] = ()) -> None:
        """Write the invoice's status, balance and transactions if nobody changed it meanwhile;
        the order's payment status follows in the same transaction. `order_unlocked`: only while
        no action holds the order (`ActionInProgress` otherwise). `credit`: changes of a client's
        credit balance that the payment or refund makes, in the same transaction."""
        rec = r.InvoiceRecord(pk=keys.order_pk(invoice.order_id), sk=keys.INVOICE_SK, version=version)
        actions: list[Action] = [
            r.InvoiceRecord.status.set(invoice.status.value),
            r.InvoiceRecord.balance.set(invoice.balance),
            r.InvoiceRecord.transactions.set([mappers.txn_dict(t) for t in invoice.transactions]),
            r.InvoiceRecord.date_paid.set(invoice.date_paid) if invoice.date_paid
            else r.InvoiceRecord.date_paid.remove(),
        ]
        try:
            with transaction() as tx:
                tx.update(rec, actions=actions, condition=r.InvoiceRecord.pk.exists())
                if sync_order_status:
                    self.writes.payment_status_op(invoice.order_id, invoice.payment_status,
                                                  unlocked=order_unlocked)(tx)
                elif order_unlocked:
                    tx.condition_check(r.OrderRecord, keys.order_pk(invoice.order_id), keys.ORDER_SK,
                                       condition=r.OrderRecord.pending_action.does_not_exist())
                if history is not None:
                    tx.save(mappers.history_record(invoice.order_id, history))
                for change in credit:
                    credit_op(change)(tx)
        except TransactWriteError as exc:
            if condition_failed(exc) or conflicted(exc):
                if order_unlocked:
                    self.writes.explain_refusal(invoice.order_id, exc)
                raise ConcurrentUpdate(f"invoice {invoice.id} changed meanwhile; try again") from exc
            raise
