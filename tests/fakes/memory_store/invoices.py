"""Invoices in memory (`InvoiceStore`), with the semantics of `adapters.store.invoices`: read
here, with the version they are at (several at once: those that exist); changed only with their
order, through the one write path (`OrderChange.invoice`, `order_writes`)."""

from __future__ import annotations

from collections.abc import Iterable

from orderdesk.domain.errors import NotFound
from orderdesk.domain.model import Invoice, order_id_of_invoice

from .state import MemoryState, read_invoice


class MemoryInvoices:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    def get_invoice(self, invoice_id: str) -> Invoice:
        order_id = order_id_of_invoice(invoice_id)
        with self.s.lock:
            p = self.s.partition(order_id) if order_id is not None else None
            invoice = read_invoice(p) if p is not None else None
            if invoice is None:
                raise NotFound(f"invoice {invoice_id} not found")
            return invoice

    def get_invoices(self, invoice_ids: Iterable[str]) -> list[Invoice]:
        found = []
        with self.s.lock:
            for order_id in {oid for oid in (order_id_of_invoice(i) for i in invoice_ids) if oid is not None}:
                p = self.s.partition(order_id)
                invoice = read_invoice(p) if p is not None else None
                if invoice is not None:
                    found.append(invoice)
        return found
