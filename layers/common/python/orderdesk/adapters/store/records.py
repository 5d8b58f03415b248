"""pynamodb models of the single OrderDesk table (its layout: `keys`). These never leave
`adapters/store/`: the data modules return domain objects."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    DiscriminatorAttribute,
    NumberAttribute,
    NumberSetAttribute,
    TTLAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.constants import NUMBER, STRING
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from ...config import get_settings
from . import keys


class DecimalAttribute(Attribute[Decimal]):
    """A DynamoDB Number read back as Decimal (pynamodb's NumberAttribute goes through float)."""

    attr_type = NUMBER

    def serialize(self, value: Decimal) -> str:
        return format(Decimal(value), "f")

    def deserialize(self, value: str) -> Decimal:
        return Decimal(value)


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return {"__d": format(obj, "f")}
    raise TypeError(f"cannot store {type(obj).__name__}")


def _hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and "__d" in obj:
        return Decimal(obj["__d"])
    return obj


class JsonAttribute(Attribute[Any]):
    """Nested data kept as a JSON string; Decimals survive the round trip exactly."""

    attr_type = STRING

    def serialize(self, value: Any) -> str:
        return json.dumps(value, default=_default, separators=(",", ":"))

    def deserialize(self, value: str) -> Any:
        return json.loads(value, object_hook=_hook)


class _Meta:
    """Table name and region come from settings when the model is first used, never at import."""


def _meta() -> type:
    settings = get_settings()

    class Meta:
        table_name = settings.table_name
        region = settings.region
        host = None  # botocore reads AWS_ENDPOINT_URL_DYNAMODB, as in AWS there is none
        max_retry_attempts = 3
        base_backoff_ms = 25
        connect_timeout_seconds = 2
        read_timeout_seconds = 10
        max_pool_connections = 32
        extra_headers = None
        aws_access_key_id = None
        aws_secret_access_key = None
        aws_session_token = None

    return Meta


class StatusIndex(GlobalSecondaryIndex["Record"]):
    class Meta:
        index_name = keys.BY_STATUS
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class AllOrdersIndex(GlobalSecondaryIndex["Record"]):
    class Meta:
        index_name = keys.BY_ALL
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class ClientOrdersIndex(GlobalSecondaryIndex["Record"]):
    class Meta:
        index_name = keys.BY_CLIENT
        projection = AllProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class AttentionIndex(GlobalSecondaryIndex["Record"]):
    class Meta:
        index_name = keys.BY_ATTENTION
        projection = AllProjection()

    gsi5pk = UnicodeAttribute(hash_key=True)
    gsi5sk = UnicodeAttribute(range_key=True)


def _type_index() -> GlobalSecondaryIndex[Any]:
    """A fresh index object per model: pynamodb binds an index class to one model."""

    class TypeIndex(GlobalSecondaryIndex[Any]):
        class Meta:
            index_name = keys.BY_TYPE
            projection = AllProjection()

        gsi4pk = UnicodeAttribute(hash_key=True)
        gsi4sk = UnicodeAttribute(range_key=True)

    return TypeIndex()


class Record(Model):
    """Base of every record in the table; `kind` tells pynamodb which subclass to build."""

    Meta = _Meta  # type: ignore[assignment]  # replaced by bind_models()

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute()
    ttl = TTLAttribute(null=True)


class OrderRecord(Record, discriminator="order"):
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    # sparse: set only while the order carries a pending action (LOCKED#<shard>), so the lock
    # sweep reads the few locked orders instead of every order
    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)
    # sparse: set only while the order's attention list is not empty (ATTENTION#<shard>)
    gsi5pk = UnicodeAttribute(null=True)
    gsi5sk = UnicodeAttribute(null=True)
    by_status = StatusIndex()
    by_all = AllOrdersIndex()
    by_client = ClientOrdersIndex()
    by_type = _type_index()
    by_attention = AttentionIndex()

    id = UnicodeAttribute()
    number = UnicodeAttribute()
    placed_at = UnicodeAttribute()
    status = UnicodeAttribute()
    client_id = UnicodeAttribute()
    client = JsonAttribute()
    promo_code = UnicodeAttribute(null=True)
    discount = DecimalAttribute()
    payment_method = UnicodeAttribute()
    total = DecimalAttribute()
    currency = UnicodeAttribute()
    invoice_id = UnicodeAttribute()
    payment_status = UnicodeAttribute()
    ip_address = UnicodeAttribute(null=True)
    affiliate_id = UnicodeAttribute(null=True)
    affiliate = JsonAttribute(null=True)
    notes = UnicodeAttribute(null=True)
    fraud_check = JsonAttribute(null=True)
    flagged_for_review = BooleanAttribute(default=False)
    skip_fraud_check = BooleanAttribute(default=False)
    pending_action = JsonAttribute(null=True)
    attention = JsonAttribute(null=True)  # [{"code", "item_id", "message"}], absent when none
    # the attention list would differ were the status another: a bulk change then takes the one
    # write path (which recomputes the list) instead of its bare status write
    status_moves_attention = BooleanAttribute(null=True)
    search = UnicodeAttribute()  # lower-cased client name, email, company and domains, for `q`
    version = VersionAttribute()
    total_band = UnicodeAttribute(null=True)  # by_total's key (keys.total_band); promo_code etc. key theirs as they are


class ItemRecord(Record, discriminator="item"):
    # sparse: set only while the domain's registration is pending (DOMAINWAIT), so the registrar
    # sync reads the few waiting domains instead of every item
    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)
    by_type = _type_index()

    id = UnicodeAttribute()
    order_id = UnicodeAttribute()
    position = NumberAttribute(default=0)
    item_kind = UnicodeAttribute()
    description = UnicodeAttribute()
    billing_cycle = UnicodeAttribute()
    amount = DecimalAttribute()
    status = UnicodeAttribute()
    server_id = UnicodeAttribute(null=True)
    username = UnicodeAttribute(null=True)
    module = UnicodeAttribute(null=True)
    password_enc = UnicodeAttribute(null=True)  # write-only: encrypted, never returned
    domain = UnicodeAttribute(null=True)
    registration_type = UnicodeAttribute(null=True)
    period_years = NumberAttribute(null=True)
    registrar = UnicodeAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    account_exists = BooleanAttribute(null=True)  # the account is live on its server (modules only)
    registration = JsonAttribute(null=True)  # a domain's state at its registrar
    commands = JsonAttribute(null=True)  # module commands done on it, by kind


class InvoiceRecord(Record, discriminator="invoice"):
    id = UnicodeAttribute()
    order_id = UnicodeAttribute()
    client_id = UnicodeAttribute()
    status = UnicodeAttribute()
    lines = JsonAttribute()
    subtotal = DecimalAttribute()
    discount = DecimalAttribute()
    tax = DecimalAttribute()
    total = DecimalAttribute()
    balance = DecimalAttribute()
    currency = UnicodeAttribute()
    due_date = UnicodeAttribute()
    date_paid = UnicodeAttribute(null=True)
    payment_method = UnicodeAttribute()
    transactions = JsonAttribute()
    version = VersionAttribute()


class FraudCheckRecord(Record, discriminator="fraud_check"):
    """The order's last screening (provider, score, every signal: about 1 KB), beside the order
    record rather than in it: kept there, it would double the write units of every later change
    of the order and of each of its three index copies."""

    check = JsonAttribute()


class NoteRecord(Record, discriminator="note"):
    id = UnicodeAttribute()
    at = UnicodeAttribute()
    author = UnicodeAttribute()
    text = UnicodeAttribute()


class HistoryRecord(Record, discriminator="history"):
    at = UnicodeAttribute()
    actor = UnicodeAttribute()
    action = UnicodeAttribute()
    from_status = UnicodeAttribute(null=True)
    to_status = UnicodeAttribute(null=True)
    detail = UnicodeAttribute(null=True)
    execution = UnicodeAttribute(null=True)
    amount = DecimalAttribute(null=True)  # the money a payment or refund moved
    currency = UnicodeAttribute(null=True)


class ActionRecord(Record, discriminator="action"):
    id = UnicodeAttribute()
    order_id = UnicodeAttribute()
    action_type = UnicodeAttribute()
    status = UnicodeAttribute()
    steps = JsonAttribute()
    started_at = UnicodeAttribute()
    finished_at = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    actor = UnicodeAttribute(null=True)
    execution_arn = UnicodeAttribute(null=True)
    params = JsonAttribute(null=True)


class OrderNumberRecord(Record, discriminator="order_number"):
    order_id = UnicodeAttribute()


class StatsRecord(Record, discriminator="stats"):
    """Order counts per status, one record per shard so no counter is a hot key."""

    Pending = NumberAttribute(default=0)
    Active = NumberAttribute(default=0)
    Cancelled = NumberAttribute(default=0)
    Fraud = NumberAttribute(default=0)
    Attention = NumberAttribute(default=0)  # orders whose attention list is not empty


class ClientRecord(Record, discriminator="client"):
    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)
    by_type = _type_index()

    id = UnicodeAttribute()
    first_name = UnicodeAttribute()
    last_name = UnicodeAttribute()
    email = UnicodeAttribute()
    company = UnicodeAttribute(null=True)
    country = UnicodeAttribute()
    address = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    credit_balance = DecimalAttribute()
    # the balance the credit ledger opened with: 0.00 for a client created with the ledger; for a
    # client stored before it, the balance it had, set by its first credit change (in that write,
    # from the balance before it). Absent: no change yet, the whole balance is the opening.
    credit_opening = DecimalAttribute(null=True)
    ledger_opened = UnicodeAttribute(null=True)  # when the ledger opened
    created_at = UnicodeAttribute()
    # "first last email company", lower case: GET /clients?q= filters on it (a key of by_type may
    # not appear in a filter expression)
    search = UnicodeAttribute(null=True)


class CreditEntryRecord(Record, discriminator="credit_entry"):
    """One entry of a client's credit ledger, in the client's partition, written in the
    transaction that moves the client's balance by its amount."""

    client_id = UnicodeAttribute()
    at = UnicodeAttribute()
    amount = DecimalAttribute()
    reason = UnicodeAttribute()
    ref = UnicodeAttribute(null=True)
    actor = UnicodeAttribute(null=True)


class PaymentGuardRecord(Record, discriminator="payment_guard"):
    """A gateway's transaction id taken by a payment: put, only if absent, in the transaction that
    records the payment, so the id is recorded once across every invoice. Kept when the order is
    deleted (the money was taken)."""

    gateway = UnicodeAttribute()
    transaction_id = UnicodeAttribute()
    invoice_id = UnicodeAttribute()
    payment_id = UnicodeAttribute()
    at = UnicodeAttribute()


class AffiliateRecord(Record, discriminator="affiliate"):
    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)
    by_type = _type_index()

    id = UnicodeAttribute()
    name = UnicodeAttribute()
    email = UnicodeAttribute()
    created_at = UnicodeAttribute()


class ServerRecord(Record, discriminator="server"):
    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)
    by_type = _type_index()

    id = UnicodeAttribute()
    name = UnicodeAttribute()
    module = UnicodeAttribute()
    hostname = UnicodeAttribute(null=True)
    url = UnicodeAttribute(null=True)
    username = UnicodeAttribute(null=True)
    credentials_enc = UnicodeAttribute(null=True)  # write-only: encrypted, never returned
    created_at = UnicodeAttribute()


class BulkJobRecord(Record, discriminator="bulk_job"):
    """A bulk job: its counters, and which of its messages (status changes) were counted."""

    id = UnicodeAttribute()
    status = UnicodeAttribute()
    target = UnicodeAttribute()  # an order status, or "delete"
    total = NumberAttribute()
    succeeded = NumberAttribute(default=0)
    failed = NumberAttribute(default=0)
    created_at = UnicodeAttribute()
    actor = UnicodeAttribute(null=True)
    finished_at = UnicodeAttribute(null=True)
    chunks = NumberSetAttribute(null=True)  # numbers of the status-change messages already counted
    order_ids = JsonAttribute(null=True)  # the job's orders, in the order its messages split them
    chunk_size = NumberAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)  # when it last moved (the stale-job sweep)
    # sparse by_type entry (OPEN_BULK_JOBS) while the job is not DONE
    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)
    by_type = _type_index()


class DomainItemRecord(Record, discriminator="domain_item"):
    """One domain item, under its domain name: how a registrar's event (which names only the
    domain) finds its items, written before the order and deleted with it."""

    order_id = UnicodeAttribute()
    item_id = UnicodeAttribute()


class RegistrarEventRecord(Record, discriminator="registrar_event"):
    """An event a registrar sent (`POST /registrar/events`), by its id, written in the transaction
    that applies it: an id seen before is not acted on again. Expires by the table's TTL."""

    domain = UnicodeAttribute()
    status = UnicodeAttribute()
    received_at = UnicodeAttribute()


class ExportRecord(Record, discriminator="export"):
    """An export of the orders list (`stores().exports`): its filters, how far its run got, and
    the file's key once done. Expires with the file (the bucket's lifecycle)."""

    id = UnicodeAttribute()
    status = UnicodeAttribute()
    filters = JsonAttribute()
    rows = NumberAttribute(default=0)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    actor = UnicodeAttribute()
    finished_at = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    object_key = UnicodeAttribute(null=True)
    run = UnicodeAttribute(null=True)  # the delivery writing it: only it may move it on


class BulkOutcomeRecord(Record, discriminator="bulk_outcome"):
    """An order a bulk job refused (with why), and the claim and outcome of each order of a bulk
    delete; listed by the job's Query."""

    order_id = UnicodeAttribute()
    ok = BooleanAttribute()
    error = UnicodeAttribute(null=True)
    # a bulk delete is begun (not yet counted): a delete spans several writes, so the outcome is
    # claimed first and counted when the order is gone; a redelivery resumes it
    deleting = BooleanAttribute(null=True)


class GatewayEventRecord(Record, discriminator="gateway_event"):
    """An event a payment gateway sent and what became of it (`gateway_events`); in the sparse
    UNMATCHED#<gateway> partition of by_type while it is unmatched. Expires by TTL once matched."""

    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)
    by_type = _type_index()

    gateway = UnicodeAttribute()
    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    received_at = UnicodeAttribute()
    outcome = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    invoice_id = UnicodeAttribute(null=True)
    object_id = UnicodeAttribute(null=True)
    amount = UnicodeAttribute(null=True)
    currency = UnicodeAttribute(null=True)


class GatewayPaymentRecord(Record, discriminator="gateway_payment"):
    """The invoice a gateway's payment (a Stripe payment intent) was recorded on by its webhook."""

    invoice_id = UnicodeAttribute()


# the stream's views keep their records in a module of their own; imported here so that every
# record class is registered with the table's models whichever module is imported first
from . import view_records as _views  # noqa: E402, F401

_bound_table: tuple[str, str, str | None] | None = None


def bind_models() -> None:
    """Point every model at the configured table (and drop connections made for another table,
    region or endpoint). Called on first use, not at import time."""
    global _bound_table
    settings = get_settings()
    key = (settings.table_name, settings.region, settings.dynamodb_endpoint)
    if _bound_table == key:
        return
    meta = _meta()
    models: list[type[Record]] = [Record, *Record.__subclasses__()]
    for cls in models:
        cls.Meta = meta  # type: ignore[assignment]
        cls._connection = None  # type: ignore[attr-defined]
    _bound_table = key
