"""Events payment gateways sent (`domain.gateway_events`): one record per gateway and event id,
put only if absent, so an event is kept (and acted on) once whatever Stripe redelivers. Those
OrderDesk could not match are listed newest first from the sparse UNMATCHED#<gateway> entries
of `by_type`, never a scan; the others expire by TTL once Stripe has long stopped retrying them
(it retries for three days)."""

from __future__ import annotations

import time
from datetime import timedelta

from pynamodb.exceptions import DoesNotExist, PutError

from ...domain.gateway_events import GatewayEvent, GatewayEventPage
from ...domain.model import utcnow
from . import keys
from . import records as r
from .table import condition_failed, translated


def _event_from(rec: r.GatewayEventRecord) -> GatewayEvent:
    return GatewayEvent(gateway=rec.gateway, id=rec.event_id, type=rec.event_type, received_at=rec.received_at,
                        outcome=rec.outcome, reason=rec.reason, invoice_id=rec.invoice_id, object_id=rec.object_id,
                        amount=rec.amount, currency=rec.currency)


@translated
class GatewayEvents:
    def __init__(self, ttl_days: int) -> None:
        self.ttl_days = ttl_days

    def get_event(self, gateway: str, event_id: str) -> GatewayEvent | None:
        try:
            rec = r.GatewayEventRecord.get(keys.gateway_event_pk(gateway, event_id), keys.GATEWAY_EVENT_SK,
                                           consistent_read=True)
        except DoesNotExist:
            return None
        return _event_from(rec)

    def put_event(self, event: GatewayEvent) -> bool:
        """Keep `event` unless one of its id is kept already (then False: the first one stands)."""
        rec = r.GatewayEventRecord(
            pk=keys.gateway_event_pk(event.gateway, event.id), sk=keys.GATEWAY_EVENT_SK, gateway=event.gateway,
            event_id=event.id, event_type=event.type, received_at=event.received_at, outcome=event.outcome,
            reason=event.reason, invoice_id=event.invoice_id, object_id=event.object_id, amount=event.amount,
            currency=event.currency)
        if event.unmatched:  # kept until a person has seen it: listed, never expired
            rec.gsi4pk = keys.unmatched_partition(event.gateway)
            rec.gsi4sk = keys.unmatched_sort_key(event.received_at, time.time_ns(), event.id)
        else:
            rec.ttl = utcnow() + timedelta(days=self.ttl_days)
        try:
            rec.save(condition=r.GatewayEventRecord.pk.does_not_exist())
        except PutError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    # Where a gateway's payment was recorded, for its later refund events (a Stripe charge names
    # its payment intent, not always the invoice). Kept by the webhook for the payments it records.
    # TODO(money): the guard of a gateway's transaction id across invoices names the invoice of
    # every payment, typed in or not: read it here instead once it lands, and drop these records.
    def note_payment(self, gateway: str, transaction_id: str, invoice_id: str) -> None:
        r.GatewayPaymentRecord(pk=keys.gateway_event_pk(gateway, transaction_id), sk=keys.GATEWAY_PAYMENT_SK,
                               invoice_id=invoice_id).save()

    def invoice_of_payment(self, gateway: str, transaction_ids: list[str]) -> str | None:
        for txn in dict.fromkeys(t for t in transaction_ids if t):
            try:
                return str(r.GatewayPaymentRecord.get(keys.gateway_event_pk(gateway, txn), keys.GATEWAY_PAYMENT_SK,
                                                      consistent_read=True).invoice_id)
            except DoesNotExist:
                continue
        return None

    def list_unmatched(self, gateway: str, limit: int, after_key: str | None) -> GatewayEventPage:
        """The gateway's unmatched events, newest first, a page at a time."""
        found = list(r.GatewayEventRecord.by_type.query(
            keys.unmatched_partition(gateway),
            r.GatewayEventRecord.gsi4sk < after_key if after_key else None,
            scan_index_forward=False, limit=limit + 1))
        page = [rec for rec in found if isinstance(rec, r.GatewayEventRecord)][:limit]
        more = len(found) > limit
        return GatewayEventPage(events=[_event_from(rec) for rec in page],
                                last_key=page[-1].gsi4sk if more and page else None)
