"""Clients and their credit balance."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, PutError
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


def credit_op(change: CreditChange) -> TxOp:
    """A change of a client's credit balance, as a part of the transaction that causes it (a
    refund to credit), so it happens exactly as often as its cause."""
    def op(tx: TransactWrite) -> None:
        tx.update(r.ClientRecord(pk=keys.client_pk(change.client_id), sk=keys.CLIENTS),
                  actions=[r.ClientRecord.credit_balance.add(change.amount)], condition=r.ClientRecord.pk.exists())

    return op
