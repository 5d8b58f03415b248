"""Stream images read as domain objects: what DynamoDB Streams shows of a record before or after
a change (plain Python values, as Powertools deserializes them) becomes the Order, OrderItem,
Invoice or FraudCheck the data modules would have read, through the same records and mappers.

So the views kept from the stream (`services.projections`) read the table's formats (JSON
attributes, Decimals kept exactly inside them) from one place and never from a copy of them."""

from __future__ import annotations

from typing import Any

from ...domain.model import FraudCheck, Invoice, Order, OrderItem
from ...domain.statuses import PaymentStatus
from . import keys, mappers
from . import records as r

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

    def fraud_check(self, image: Image) -> FraudCheck | None:
        rec = record_of(image)
        if not isinstance(rec, r.FraudCheckRecord) or not rec.check:
            return None
        return mappers.fraud_from(rec.check)
