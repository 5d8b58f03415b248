"""Invoices, read. An invoice changes with its order, through `order_writes` (`OrderChange.invoice`),
so the order's payment status and attention list move with it in one transaction."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from ...domain.errors import NotFound
from ...domain.model import Invoice, order_id_of_invoice
from . import keys, mappers
from . import records as r
from .table import translated


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
