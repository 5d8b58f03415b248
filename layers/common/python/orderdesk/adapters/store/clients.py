"""Clients and their credit balance."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from ...domain.errors import ConcurrentUpdate, NotFound
from ...domain.model import Client, CreditChange
from . import keys, mappers
from . import records as r
from .table import TxOp, condition_failed, translated


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
        condition = r.ClientRecord.pk.exists()
        for name in _EDITABLE:
            attr, old, value = getattr(r.ClientRecord, name), getattr(before, name), getattr(after, name)
            condition &= attr == old if old is not None else attr.does_not_exist()
            actions.append(attr.set(value) if value is not None else attr.remove())
        rec = r.ClientRecord(pk=keys.client_pk(before.id), sk=keys.CLIENTS)
        try:
            rec.update(actions=actions, condition=condition)
        except UpdateError as exc:
            if condition_failed(exc):
                self.get_client(before.id)  # NotFound when it is gone
                raise ConcurrentUpdate(f"client {before.id} changed meanwhile") from exc
            raise
        return mappers.client_from(rec)


_EDITABLE = ("first_name", "last_name", "email", "company", "country", "address", "phone")


def credit_op(change: CreditChange) -> TxOp:
    """A change of a client's credit balance, as a part of the transaction that causes it (a
    refund to credit), so it happens exactly as often as its cause."""
    def op(tx: TransactWrite) -> None:
        tx.update(r.ClientRecord(pk=keys.client_pk(change.client_id), sk=keys.CLIENTS),
                  actions=[r.ClientRecord.credit_balance.add(change.amount)], condition=r.ClientRecord.pk.exists())

    return op
