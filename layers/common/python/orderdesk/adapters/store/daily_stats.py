"""Daily statistics: one item per day (`DAILY` / `<YYYY-MM-DD>`), so a range of days is one Query
that reads as many items as days, whatever the number of orders; and beside them a record per
happening counted (`DAILYCOUNTED#<id>`), written in the same transaction as the count, so a
happening is counted once however often its stream record is delivered."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.operand import Path, Value

from ...domain.errors import ConcurrentUpdate
from ...domain.model import iso, utcnow
from ...domain.stats import COUNTERS, FRAUD_DECISIONS, PAYMENTS, REFUNDS, DailyEvent, DayCounts, currency_code
from . import keys
from . import view_records as v
from .table import client, condition_failed, conflicted, table_name, transaction, translated

PAID = "paid_"  # + currency: the day's payments in it
REFUNDED = "refunded_"
CHECKS = "checks_"  # + decision: fraud screening results


def _additions(event: DailyEvent) -> dict[str, Decimal]:
    """The attributes one happening adds to, and by how much."""
    if event.counter == "fraud_check":
        decision = event.decision if event.decision in FRAUD_DECISIONS else "error"
        return {CHECKS + decision: Decimal(1)}
    if event.counter not in COUNTERS:
        raise ValueError(f"no daily counter {event.counter!r}")
    out = {event.counter: Decimal(1)}
    if event.amount is not None and event.counter in (PAYMENTS, REFUNDS):
        out[(PAID if event.counter == PAYMENTS else REFUNDED) + currency_code(event.currency)] = event.amount
    return out


@translated
class DailyStats:
    def __init__(self, ttl_days: int) -> None:
        self.ttl_days = ttl_days

    def count(self, event: DailyEvent) -> bool:
        """Add one happening to its day, once: False when it was counted already."""
        added = _additions(event)
        marker = v.DailyCountedRecord(pk=keys.daily_counted_pk(event.id), sk=keys.DAILY_COUNTED_SK,
                                      counted_at=iso(utcnow()), ttl=utcnow() + timedelta(days=self.ttl_days))
        try:
            with transaction() as tx:
                tx.save(marker, condition=v.DailyCountedRecord.pk.does_not_exist())
                tx.update(v.DailyStatsRecord(pk=keys.DAILY_PK, sk=event.day),
                          actions=[*(Path([name]).add(Value({"N": format(value, "f")})) for name, value in added.items()),
                                   v.DailyStatsRecord.kind.set(v.DailyStatsRecord)])
        except TransactWriteError as exc:
            if condition_failed(exc):
                return False  # counted by an earlier delivery
            if conflicted(exc):  # another happening of the same day counted at the same moment
                raise ConcurrentUpdate(f"the statistics of {event.day} are busy") from exc
            raise
        return True

    def days(self, first: str, last: str) -> list[DayCounts]:
        """The days in [first, last] that have counts, oldest first (one Query, one item a day)."""
        from boto3.dynamodb.types import TypeDeserializer

        plain = TypeDeserializer()
        out: list[DayCounts] = []
        request: dict[str, Any] = {
            "TableName": table_name(), "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
            "ExpressionAttributeValues": {":pk": {"S": keys.DAILY_PK}, ":first": {"S": first}, ":last": {"S": last}},
        }
        while True:
            page = client().query(**request)
            for item in page.get("Items", []):
                out.append(_day_of({name: plain.deserialize(value) for name, value in item.items()}))
            if "LastEvaluatedKey" not in page:
                return out
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _day_of(item: dict[str, Any]) -> DayCounts:
    day = DayCounts(date=str(item["sk"]))
    for counter in COUNTERS:
        setattr(day, counter, int(item.get(counter) or 0))
    for name, value in item.items():
        if name.startswith(PAID):
            day.payment_amounts[name[len(PAID):]] = Decimal(value)
        elif name.startswith(REFUNDED):
            day.refund_amounts[name[len(REFUNDED):]] = Decimal(value)
        elif name.startswith(CHECKS):
            day.fraud_checks[name[len(CHECKS):]] = int(value)
    return day
