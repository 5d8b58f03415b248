"""Daily statistics: one item per day (`DAILY` / `<YYYY-MM-DD>`), so a range of days is one Query
that reads as many items as days, whatever the number of orders; and beside them a record per
happening counted (`DAILYCOUNTED#<id>`), written in the same transaction as the count, so a
happening is counted once however often its stream record is delivered."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.operand import Path, Value
from pynamodb.transactions import TransactWrite

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


TOGETHER = 100  # items in one transaction: the happenings' records and their days
_READ_TOGETHER = 100  # happenings' records read in one BatchGetItem


def _groups(events: list[DailyEvent]) -> Iterator[list[DailyEvent]]:
    """The happenings in runs whose records and distinct days fit one transaction."""
    group: list[DailyEvent] = []
    days: set[str] = set()
    for event in events:
        if group and len(group) + 1 + len(days | {event.day}) > TOGETHER:
            yield group
            group, days = [], set()
        group.append(event)
        days.add(event.day)
    if group:
        yield group


@translated
class DailyStats:
    def __init__(self, ttl_days: int) -> None:
        self.ttl_days = ttl_days

    def count(self, event: DailyEvent) -> bool:
        """Add one happening to its day, once: False when it was counted already."""
        try:
            with transaction() as tx:
                self._write(tx, [event])
        except TransactWriteError as exc:
            if condition_failed(exc):
                return False  # counted by an earlier delivery
            if conflicted(exc):  # another happening of the same day counted at the same moment
                raise ConcurrentUpdate(f"the statistics of {event.day} are busy") from exc
            raise
        return True

    def count_many(self, events: Sequence[DailyEvent]) -> tuple[list[DailyEvent], list[DailyEvent]]:
        """Add happenings to their days as `count` adds each, in fewer writes: those counted
        already (their records read in one batch) are skipped, the others written with each day's
        summed additions in one transaction per `TOGETHER` items. A transaction refused (a
        happening counted meanwhile, a concurrent count of a day) counts none of its happenings.
        Returns (the happenings counted, those left to count one by one)."""
        wanted = list({e.id: e for e in events}.values())  # a happening named twice is one
        counted: list[DailyEvent] = []
        left: list[DailyEvent] = []
        for start in range(0, len(wanted), _READ_TOGETHER):
            chunk = wanted[start:start + _READ_TOGETHER]
            there = {rec.pk for rec in v.DailyCountedRecord.batch_get(
                [(keys.daily_counted_pk(e.id), keys.DAILY_COUNTED_SK) for e in chunk], consistent_read=True,
                attributes_to_get=["pk", "sk"])}
            todo = [e for e in chunk if keys.daily_counted_pk(e.id) not in there]
            for group in _groups(todo):
                try:
                    with transaction() as tx:
                        self._write(tx, group)
                except TransactWriteError as exc:
                    if condition_failed(exc) or conflicted(exc):
                        left.extend(group)
                        continue
                    raise
                counted.extend(group)
        return counted, left

    def _write(self, tx: TransactWrite, events: list[DailyEvent]) -> None:
        """Each happening's record, put only where none is, and each day's summed additions."""
        by_day: dict[str, dict[str, Decimal]] = {}
        for event in events:
            tx.save(v.DailyCountedRecord(pk=keys.daily_counted_pk(event.id), sk=keys.DAILY_COUNTED_SK,
                                         counted_at=iso(utcnow()), ttl=utcnow() + timedelta(days=self.ttl_days)),
                    condition=v.DailyCountedRecord.pk.does_not_exist())
            day = by_day.setdefault(event.day, {})
            for name, value in _additions(event).items():
                day[name] = day.get(name, Decimal(0)) + value
        for day_key, added in sorted(by_day.items()):
            tx.update(v.DailyStatsRecord(pk=keys.DAILY_PK, sk=day_key),
                      actions=[*(Path([name]).add(Value({"N": format(value, "f")})) for name, value in sorted(added.items())),
                               v.DailyStatsRecord.kind.set(v.DailyStatsRecord)])

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
