"""Clients and their credit ledger.

A client's credit balance moves only with an entry of its ledger (`credit_op`): the entry is put
and the balance moved by its amount in one transaction, a taking only while the balance covers
it (a conditional update), so the balance is never negative and always the sum of the entries.

Clients stored before the ledger existed have a balance and no entries. Their stored balance is
the ledger's opening entry: the first credit change records it (`credit_opening`, copied from the
balance as it was, in that same update, so nothing can slip in between), and until then the whole
balance is the opening. A client created since opens its ledger at 0.00."""

from __future__ import annotations

import time
from collections.abc import Iterable
from decimal import Decimal

from pynamodb.constants import ALL_OLD
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from ...domain.errors import ConcurrentUpdate, InsufficientCredit, NotFound
from ...domain.model import Client, CreditChange, CreditEntry, CreditLedger, iso, utcnow
from ...domain.money import ZERO
from . import keys, mappers
from . import records as r
from .table import TxOp, condition_failed, conflicted, edit_as_read, refused_item, transaction, translated

OPENING_REASON = "opening balance (before the credit ledger)"


@translated
class Clients:
    def put_client(self, client: Client) -> None:
        try:
            mappers.client_record(client).save(condition=r.ClientRecord.pk.does_not_exist())
        except PutError as exc:
            if condition_failed(exc):
                raise ConcurrentUpdate("client id already taken") from exc
            raise

    def get_client(self, client_id: str) -> Client:
        try:
            return mappers.client_from(r.ClientRecord.get(keys.client_pk(client_id), keys.CLIENTS))
        except DoesNotExist as exc:
            raise NotFound(f"client {client_id} not found") from exc

    def list_clients(self, q: str | None = None, limit: int = 100) -> list[Client]:
        filt = None
        if q:
            ql = q.lower()
            # not gsi4sk: DynamoDB refuses a key of the queried index in a filter (every q was a 500);
            # the names themselves match clients written before `search` was stored
            filt = (r.ClientRecord.search.contains(ql) | r.ClientRecord.email.contains(ql)
                    | r.ClientRecord.company.contains(q) | r.ClientRecord.first_name.contains(q)
                    | r.ClientRecord.last_name.contains(q))
        return [mappers.client_from(rec) for rec in r.ClientRecord.query(
            keys.CLIENTS, filter_condition=filt, index_name=keys.BY_TYPE, limit=limit)]

    def update_client(self, before: Client, after: Client) -> Client:
        """Write the editable fields of `after` (names, email, company, country, address, phone, and
        what is derived from them: the name's sort key, the search text) if the client still has
        those of `before`; ConcurrentUpdate when it changed meanwhile (re-read and merge again),
        NotFound when it is gone. The credit balance is never written here: it moves only with
        what causes it."""
        new = mappers.client_record(after)
        actions: list[Action] = [r.ClientRecord.gsi4sk.set(new.gsi4sk), r.ClientRecord.search.set(new.search)]
        rec = r.ClientRecord(pk=keys.client_pk(before.id), sk=keys.CLIENTS)
        edit_as_read(rec, _EDITABLE, before, after, actions, f"client {before.id}",
                     reread=lambda: self.get_client(before.id))
        return mappers.client_from(rec)

    # -- credit ----------------------------------------------------------------------------------

    def change_credit(self, change: CreditChange) -> CreditEntry:
        """An adjustment of a client's credit on its own (an operator's): the entry and the balance
        at once. NotFound for an unknown client, InsufficientCredit when it would take more than
        the balance holds (nothing written)."""
        at = change.at or iso(utcnow())
        try:
            with transaction() as tx:
                credit_op(change)(tx)
        except TransactWriteError as exc:
            refusal = credit_refusal(exc)
            if refusal is not None:
                raise refusal from exc
            if condition_failed(exc):
                self.get_client(change.client_id)  # NotFound when there is none
            if condition_failed(exc) or conflicted(exc):
                raise ConcurrentUpdate(f"the credit of client {change.client_id} changed meanwhile") from exc
            raise
        return CreditEntry(at=at, amount=change.amount, reason=change.reason, ref=change.ref, actor=change.actor)

    def credit_ledger(self, client_id: str, limit: int, after_key: str | None = None) -> CreditLedger:
        """The balance and a page of entries, newest first; the opening entry last of all."""
        try:
            client = r.ClientRecord.get(keys.client_pk(client_id), keys.CLIENTS, consistent_read=True)
        except DoesNotExist as exc:
            raise NotFound(f"client {client_id} not found") from exc
        upper = after_key if after_key is not None else f"{keys.CREDIT_PREFIX}{keys.MAX_SK}"
        found = list(r.CreditEntryRecord.query(
            keys.client_pk(client_id), r.CreditEntryRecord.sk.between(keys.CREDIT_PREFIX, upper),
            scan_index_forward=False, consistent_read=True, limit=limit + 2))
        found = [rec for rec in found if rec.sk != after_key][:limit + 1]
        entries = [mappers.credit_entry_from(rec) for rec in found[:limit]]
        last = found[limit - 1].sk if len(found) > limit else None
        if last is None:
            opening = client.credit_opening if client.credit_opening is not None else client.credit_balance
            if opening != ZERO:
                entries.append(CreditEntry(at=client.ledger_opened or client.created_at, amount=opening,
                                           reason=OPENING_REASON))
        return CreditLedger(client_id=client_id, balance=client.credit_balance, entries=entries, last_key=last)


_EDITABLE = ("first_name", "last_name", "email", "company", "country", "address", "phone")


def credit_op(change: CreditChange, seq: int = 0) -> TxOp:
    """A change of a client's credit, as a part of the transaction that causes it (a payment or a
    refund recorded on an invoice, an adjustment), so it happens exactly as often as its cause:
    an entry of the ledger, and the balance moved by its amount, only while the balance covers a
    taking. A client with no ledger yet has its balance before this change kept as the opening."""
    at = change.at or iso(utcnow())
    written = time.time_ns()

    def op(tx: TransactWrite) -> None:
        condition = r.ClientRecord.pk.exists()
        if change.amount < ZERO:
            condition &= r.ClientRecord.credit_balance >= -change.amount
        tx.update(r.ClientRecord(pk=keys.client_pk(change.client_id), sk=keys.CLIENTS), actions=[
            r.ClientRecord.credit_opening.set(r.ClientRecord.credit_opening | r.ClientRecord.credit_balance),
            r.ClientRecord.ledger_opened.set(r.ClientRecord.ledger_opened | at),
            r.ClientRecord.credit_balance.add(change.amount),
        ], condition=condition, return_values=ALL_OLD)
        tx.save(mappers.credit_entry_record(change, at, written, seq),
                condition=r.CreditEntryRecord.pk.does_not_exist())

    return op


def credit_ops(changes: Iterable[CreditChange]) -> list[TxOp]:
    return [credit_op(change, seq) for seq, change in enumerate(changes)]


def credit_refusal(exc: TransactWriteError) -> InsufficientCredit | None:
    """A transaction refused because a client's balance did not cover a taking: why, from the
    client as the refusal returned it (its balance then)."""
    for reason in exc.cancellation_reasons or []:
        item = refused_item(reason, keys.CLIENTS)
        if item is not None:
            balance = Decimal(item.get("credit_balance", {}).get("N", "0"))
            client_id = item.get("id", {}).get("S", "")
            return InsufficientCredit(f"client {client_id} has {balance:.2f} of credit: not enough for this",
                                      client_id=client_id, balance=f"{balance:.2f}")
    return None
