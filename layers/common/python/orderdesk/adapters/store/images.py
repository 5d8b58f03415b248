"""Stream images read as domain objects: what DynamoDB Streams shows of a record before or after
a change (plain Python values, as Powertools deserializes them) becomes the Order, OrderItem,
Invoice, Action, FraudCheck, history entry or credit-ledger entry the data modules would have
read, through the same records and mappers.

So the views kept from the stream (`services.projections`) read the table's formats (JSON
attributes, Decimals kept exactly inside them) from one place and never from a copy of them."""

from __future__ import annotations

from typing import Any

from ...domain.activity import CreditMove, Source
from ...domain.model import Action, BulkDecision, FraudCheck, HistoryEntry, Invoice, Order, OrderItem
from ...domain.statuses import PaymentStatus
from . import keys, mappers
from . import records as r
from .order_writes import decisions_in

Image = dict[str, Any] | None


def record_of(image: Image) -> r.Record | None:
    """The pynamodb record an image is of (None: no image, or a kind this table does not know)."""
    if not image or "kind" not in image:
        return None
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    try:
        return r.Record.from_raw_data({name: serializer.serialize(value) for name, value in image.items()})
    except (TypeError, ValueError):
        return None  # a discriminator or a value no model of this table reads


class StreamImages:
    def order_id(self, record_keys: dict[str, Any]) -> str | None:
        """The order whose partition a record (its `pk`, `sk`) is in."""
        pk = str(record_keys.get("pk") or "")
        prefix = keys.order_pk("")
        return (pk[len(prefix):] or None) if pk.startswith(prefix) else None

    def order(self, image: Image) -> Order | None:
        rec = record_of(image)
        if not isinstance(rec, r.OrderRecord) or rec.sk != keys.ORDER_SK:
            return None
        return mappers.order_from(rec)

    def item(self, image: Image) -> OrderItem | None:
        rec = record_of(image)
        # an item's payment status is its invoice's, which its record does not carry
        return mappers.item_from(rec, PaymentStatus.UNPAID) if isinstance(rec, r.ItemRecord) else None

    def invoice(self, image: Image) -> Invoice | None:
        rec = record_of(image)
        return mappers.invoice_from(rec) if isinstance(rec, r.InvoiceRecord) else None

    def action(self, image: Image) -> Action | None:
        rec = record_of(image)
        return mappers.action_from(rec) if isinstance(rec, r.ActionRecord) else None

    def bulk_moves(self, image: Image) -> dict[str, BulkDecision]:
        """The moves bulk jobs recorded on an order record (decisions that moved it), by job id."""
        if not image or image.get("kind") != "order" or image.get("sk") != keys.ORDER_SK:
            return {}
        return {job: d for job, d in decisions_in(image).items() if d.moved and d.to}

    def fraud_check(self, image: Image) -> FraudCheck | None:
        rec = record_of(image)
        if not isinstance(rec, r.FraudCheckRecord) or not rec.check:
            return None
        return mappers.fraud_from(rec.check)

    def history(self, record_keys: dict[str, Any], image: Image) -> tuple[str, HistoryEntry, Source] | None:
        """A history record of an order: the order, the entry, and the record it is (its key)."""
        rec = record_of(image)
        order_id = self.order_id(record_keys)
        if not isinstance(rec, r.HistoryRecord) or order_id is None:
            return None
        return order_id, mappers.history_from(rec), Source(f"{order_id}#{rec.sk}", keys.written_ns_of(rec.sk))

    def credit_move(self, record_keys: dict[str, Any], image: Image) -> tuple[CreditMove, Source] | None:
        """An entry of a client's credit ledger (`CLIENT#<id>` / `CREDIT#<at>#<write time>...`),
        read through its record and mapper like the order's records."""
        rec = record_of(image)
        if not isinstance(rec, r.CreditEntryRecord) or not rec.client_id:
            return None
        entry = mappers.credit_entry_from(rec)
        move = CreditMove(client_id=rec.client_id, at=entry.at, amount=entry.amount, reason=entry.reason,
                          ref=entry.ref, actor=entry.actor)
        return move, Source(f"{rec.client_id}#{rec.sk}", keys.written_ns_of(rec.sk))
