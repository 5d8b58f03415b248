"""A client's credit ledger: read it, adjust it by hand.

Every change of a client's credit is an entry of its ledger written with the balance in one
transaction (`adapters.store.clients.credit_op`): an adjustment here, a credit payment recorded on
an invoice and the refund of one (with the invoice, through the one write path of an order's
changes). The balance is never below 0.00 and always the sum of the entries."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from ..domain.model import CreditChange, CreditEntry, CreditLedger, iso, utcnow
from . import cursor
from .ports import stores

if TYPE_CHECKING:  # annotations only: the models (and pydantic) load with the request that carries one
    from ..schemas import CreditIn, CreditQuery


@dataclass
class CreditView:
    client_id: str
    balance: Decimal
    entries: list[CreditEntry]
    next_cursor: str | None


def credit_of(client_id: str, query: CreditQuery) -> CreditView:
    """The balance and the entries, newest first, a page at a time (the opening balance of a client
    from before the ledger last)."""
    fp = cursor.fingerprint({"credit": client_id})
    after = cursor.decode(query.cursor, fp) if query.cursor else None
    ledger: CreditLedger = stores().clients.credit_ledger(client_id, query.limit, after)
    return CreditView(client_id=client_id, balance=ledger.balance, entries=ledger.entries,
                      next_cursor=cursor.encode(ledger.last_key, fp) if ledger.last_key else None)


def adjust_credit(client_id: str, cmd: CreditIn, actor: str) -> CreditEntry:
    """Add to a client's credit, or take off it (never below 0.00: 409 insufficient_credit, nothing
    written); 404 for an unknown client."""
    data = stores()
    data.clients.get_client(client_id)  # 404 first, whatever the amount
    return data.clients.change_credit(CreditChange(client_id=client_id, amount=cmd.amount, reason=cmd.reason,
                                                   actor=actor, at=iso(utcnow())))
