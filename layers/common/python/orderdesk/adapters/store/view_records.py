"""The records the table's stream keeps for its views (`services/projections`): the status
counters' markers, the order events put on the bus, the activity log and the daily statistics.
Apart from `records` so that each module keeps to one job; `records` imports this module, so
every record class is known to the table's models."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute

from .records import DecimalAttribute, JsonAttribute, Record, _type_index


class CountedRecord(Record, discriminator="counted"):
    """What the status counters hold of one order: the status they count it in and the order
    version that was counted. The stream consumer moves a count only from the status recorded
    here and only for a newer version, so a redelivered stream record never counts twice."""

    status = UnicodeAttribute()
    attention = BooleanAttribute(null=True)
    counted_version = NumberAttribute()


class PublishedEventRecord(Record, discriminator="published_event"):
    """An order event EventBridge took (`published_events`): a redelivered stream record finds
    it and puts the event no second time. Expires by the table's TTL, long after the stream's
    24 hours of redeliveries."""

    detail_type = UnicodeAttribute()
    published_at = UnicodeAttribute()


class ActivityRecord(Record, discriminator="activity"):
    """An entry of the activity log (`activity`): in a write shard of the log, newest last, and,
    when it is of an order, in `by_type` under the order's number. Also, under the deleted order's
    own key, what its delete keeps of it until the order is gone (`deleted_order_pk`). Expires
    by the table's TTL."""

    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)
    by_type = _type_index()

    at = UnicodeAttribute()
    actor = UnicodeAttribute()
    entry_type = UnicodeAttribute()
    action = UnicodeAttribute()
    source = UnicodeAttribute()
    written_ns = NumberAttribute()
    order_id = UnicodeAttribute(null=True)
    order_number = UnicodeAttribute(null=True)
    client_id = UnicodeAttribute(null=True)
    detail = UnicodeAttribute(null=True)
    from_status = UnicodeAttribute(null=True)
    to_status = UnicodeAttribute(null=True)
    amount = DecimalAttribute(null=True)
    currency = UnicodeAttribute(null=True)
    deleted_order = JsonAttribute(null=True)


class DailyStatsRecord(Record, discriminator="daily_stats"):
    """One day's counts (`stores().daily_stats`). Money sums are attributes named per currency
    (`paid_USD`, `refunded_EUR`) and screening results per decision (`checks_review`), added to
    with ADD, so DynamoDB's exact decimal arithmetic keeps them; read raw (`daily_stats`)."""

    placed = NumberAttribute(null=True)
    accepted = NumberAttribute(null=True)
    cancelled = NumberAttribute(null=True)
    fraud = NumberAttribute(null=True)
    payments = NumberAttribute(null=True)
    refunds = NumberAttribute(null=True)
    failed_actions = NumberAttribute(null=True)


class DailyCountedRecord(Record, discriminator="daily_counted"):
    """A happening the daily statistics counted, written in the transaction that counts it: a
    stream record delivered again finds it and counts nothing. Expires by the table's TTL, long
    after the stream's 24 hours of redeliveries."""

    counted_at = UnicodeAttribute()
