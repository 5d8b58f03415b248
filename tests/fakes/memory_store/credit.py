"""Client credit and payment guards in memory, with the semantics of `adapters.store.clients`
(`credit_op`: an entry of the client's ledger with its balance moved by it, a taking only while the
balance covers it, a client stored with a balance opening its ledger with it) and
`adapters.store.invoices` (`guard_op`: a gateway's transaction id taken by one payment, across all
invoices). A refused change writes nothing, and its money says why first, as the DynamoDB data
layer's refused transaction does (`OrderWrites.run`)."""

from __future__ import annotations

from collections.abc import Iterable

from orderdesk.domain.changes import OrderChange
from orderdesk.domain.errors import Conflict, DuplicateTransaction, InsufficientCredit
from orderdesk.domain.model import CreditChange, CreditEntry, Transaction, iso, utcnow
from orderdesk.domain.money import ZERO
from orderdesk.domain.payments import new_payments

from .state import Ledger, MemoryState


def guard_key(payment: Transaction) -> tuple[str, str]:
    return payment.gateway.lower(), payment.transaction_id


def money_refusal(s: MemoryState, change: OrderChange) -> Conflict | None:
    """Why the money of a change is refused (a transaction id taken, then credit short), or None."""
    if change.invoice is not None:
        for payment in new_payments(change.invoice):
            taken = s.payment_guards.get(guard_key(payment))
            if taken is not None:
                return DuplicateTransaction(f"{payment.gateway} transaction {payment.transaction_id} is already "
                                            f"recorded as a payment on invoice {taken}", invoice_id=taken)
    return credit_refusal(s, change.credit)


def credit_refusal(s: MemoryState, changes: Iterable[CreditChange]) -> InsufficientCredit | None:
    """A taking the client's balance does not cover (an unknown client is the order's refusal)."""
    for change in changes:
        client = s.clients.get(change.client_id)
        if client is not None and change.amount < ZERO and client.credit_balance < -change.amount:
            balance = f"{client.credit_balance:.2f}"
            return InsufficientCredit(f"client {client.id} has {balance} of credit: not enough for this",
                                      client_id=client.id, balance=balance)
    return None


def write_money(s: MemoryState, change: OrderChange) -> None:
    """The guards of the payments a change adds, and its credit changes (their refusals checked)."""
    if change.invoice is not None:
        for payment in new_payments(change.invoice):
            s.payment_guards[guard_key(payment)] = change.invoice.id
    write_credit(s, change.credit)


def write_credit(s: MemoryState, changes: Iterable[CreditChange]) -> list[CreditEntry]:
    written = []
    for seq, change in enumerate(changes):
        client = s.clients[change.client_id]
        at = change.at or iso(utcnow())
        ledger = s.ledgers.setdefault(client.id, Ledger())
        if ledger.opening is None:  # a client stored before the ledger: its balance until now
            ledger.opening, ledger.opened_at = client.credit_balance, at
        client.credit_balance += change.amount
        entry = CreditEntry(at=at, amount=change.amount, reason=change.reason, ref=change.ref, actor=change.actor)
        ledger.entries[f"CREDIT#{at}#{s.write_time():020d}{seq:03d}"] = entry
        written.append(entry)
    return written
