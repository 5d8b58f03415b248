"""Invoices in memory (`InvoiceStore`), with the semantics of `adapters.store.invoices`: written
under their version (bumped by every write, an order change's status move included), the order's
payment status following in the same write, credit changes applied with it, once."""

from __future__ import annotations

from collections.abc import Iterable

from orderdesk.domain.errors import ConcurrentUpdate, NotFound
from orderdesk.domain.model import CreditChange, HistoryEntry, Invoice, order_id_of_invoice

from .state import MemoryState, clone


class MemoryInvoices:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    def get_invoice(self, invoice_id: str) -> Invoice:
        return self.get_invoice_versioned(invoice_id)[0]

    def get_invoice_versioned(self, invoice_id: str) -> tuple[Invoice, int]:
        order_id = order_id_of_invoice(invoice_id)
        with self.s.lock:
            p = self.s.partition(order_id) if order_id is not None else None
            if p is None or p.invoice is None:
                raise NotFound(f"invoice {invoice_id} not found")
            return clone(p.invoice), p.invoice_version

    def save_invoice(self, invoice: Invoice, version: int, history: HistoryEntry | None = None, *,
                     sync_order_status: bool = True, order_unlocked: bool = False,
                     credit: Iterable[CreditChange] = ()) -> None:
        """Status, balance, transactions and date paid (nothing else of the invoice) if its
        version is still `version`."""
        credit = list(credit)
        with self.s.lock:
            p = self.s.partition(invoice.order_id)
            order = p.header if p is not None else None
            holds = p is not None and p.invoice is not None and p.invoice_version == version
            if sync_order_status:
                holds = holds and order is not None and not (order_unlocked and order.pending_action is not None)
            elif order_unlocked:
                holds = holds and (order is None or order.pending_action is None)
            holds = holds and all(change.client_id in self.s.clients for change in credit)
            if p is None or p.invoice is None or not holds:
                if order_unlocked:
                    self.s.refused(invoice.order_id)
                raise ConcurrentUpdate(f"invoice {invoice.id} changed meanwhile; try again")
            stored = p.invoice
            stored.status, stored.balance = invoice.status, invoice.balance
            stored.transactions, stored.date_paid = clone(invoice.transactions), invoice.date_paid
            p.invoice_version += 1
            if sync_order_status and order is not None:
                order.payment_status = invoice.payment_status
                order.version += 1
            if history is not None:
                self.s.add_history(invoice.order_id, history)
            for change in credit:
                client = self.s.clients[change.client_id]
                client.credit_balance += change.amount
