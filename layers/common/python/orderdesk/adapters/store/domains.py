"""Domains and their registrars: which items carry a domain name (a lookup record per domain
item, `DOMAIN#<domain>`), which domains wait at their registrar (the sparse `DOMAINWAIT` entries of
`by_type`, kept on the item with its registration), and the events registrars sent
(`REGEVENT#<id>`, written in the very transaction that applies the event, so an event is acted on
once). Reads never scan: one Query per domain, one Query for every waiting domain."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from ...domain.changes import OrderChange
from ...domain.model import Order, iso, utcnow
from . import keys
from . import records as r
from .order_writes import OrderWrites
from .table import condition_failed, conflicted, transaction, translated


@translated
class Domains:
    def __init__(self, writes: OrderWrites, ttl_days: int) -> None:
        self.writes = writes
        self.ttl_days = ttl_days

    def items_of(self, domain: str) -> list[tuple[str, str]]:
        """(order id, item id) of every item carrying `domain`, on any order (strongly consistent;
        a lookup whose order is gone may be among them: the caller reads the order)."""
        return [(rec.order_id, rec.item_id)
                for rec in r.DomainItemRecord.query(keys.domain_pk(domain), consistent_read=True)]

    def waiting(self) -> Iterator[tuple[str, str]]:
        """(order id, item id) of every domain whose registration is pending, oldest first."""
        for rec in r.ItemRecord.query(keys.DOMAINS_WAITING, index_name=keys.BY_TYPE):
            yield rec.order_id, rec.id

    def event_seen(self, event_id: str) -> bool:
        try:
            r.RegistrarEventRecord.get(keys.registrar_event_pk(event_id), keys.REGISTRAR_EVENT_SK,
                                       consistent_read=True)
        except DoesNotExist:
            return False
        return True

    def record_event(self, event_id: str, domain: str, status: str,
                     changes: Sequence[tuple[Order, OrderChange]]) -> bool:
        """Record the event and make its changes (each guarded as `OrderWrites.apply` guards it),
        all in one transaction; False when the event was recorded before (nothing is written).
        A refused guard of an order says why: ActionInProgress, ConcurrentUpdate, OrderNotFound."""
        now = utcnow()
        event = r.RegistrarEventRecord(pk=keys.registrar_event_pk(event_id), sk=keys.REGISTRAR_EVENT_SK,
                                       domain=domain, status=status, received_at=iso(now),
                                       ttl=now + timedelta(days=self.ttl_days))
        ops = [self.writes.change_op(order, change) for order, change in changes]
        try:
            with transaction() as tx:
                tx.save(event, condition=r.RegistrarEventRecord.pk.does_not_exist())
                for op in ops:
                    op(tx)
        except TransactWriteError as exc:
            if not (condition_failed(exc) or conflicted(exc)):
                raise
            if self.event_seen(event_id):
                return False
            for order, _ in changes:
                self.writes.explain_refusal(order.id, exc)
            raise
        return True
