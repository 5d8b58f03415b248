"""The activity log's records: entries, what a delete keeps of its order, and the list.

Where an entry is (keys: `activity_pk`, `activity_sk`): in one of the log's write shards, by the
hash of its order (or client), sorted by time. Every shard takes writes at once, so no shard is a
hot partition whatever the rate of changes; a page reads every shard newest first, in parallel,
and merges them, as `GET /orders` reads its index. An entry of an order is also in `by_type`
under its order's number (`ACTIVITYNO#<number>`), so `order_number` reads one small partition,
also once the order is gone.

A page's read is bounded: at most `limit + 1` entries of each shard without a filter on actor
or type, `FILTERED_READ` with one (DynamoDB's `Limit` counts what it reads, not what matches).
So a page with filters may hold fewer than `limit` entries, or none, and still a cursor: the
position down to which every shard was read (`_merge`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from ...domain.activity import ActivityEntry, ActivityFilter, ActivityPage, OrderRef
from ...domain.model import utcnow
from . import keys, mappers
from . import records as r
from . import view_records as v
from .table import TxOp, condition_failed, conflicted, transaction, translated

# entries read of each partition per page when actor or type filter them (see the docstring)
FILTERED_READ = 100
TOGETHER = 100  # entries put in one transaction


def entry_key(entry: ActivityEntry, shards: int) -> tuple[str, str]:
    """Where an entry is listed: its write shard (by its order, else its client) and time."""
    owner = entry.order_id or entry.client_id or entry.source
    return keys.activity_pk(keys.shard_of(owner, shards)), keys.activity_sk(entry.at, entry.written_ns, entry.source)


def entry_op(entry: ActivityEntry, shards: int) -> TxOp:
    """An entry as a part of the transaction that makes its change (a delete's last write), once."""
    pk, sk = entry_key(entry, shards)

    def op(tx: TransactWrite) -> None:
        tx.save(mappers.activity_record(entry, pk, sk, indexed=True), condition=v.ActivityRecord.pk.does_not_exist())

    return op


@translated
class Activity:
    def __init__(self, shards: int) -> None:
        self.shards = shards

    # -- written from the stream, and by a delete -----------------------------------------------

    def add(self, entry: ActivityEntry) -> bool:
        """Put an entry unless it is there already (a stream record delivered again): True when
        this call wrote it. An entry is never overwritten: the first writing is the record."""
        pk, sk = entry_key(entry, self.shards)
        try:
            mappers.activity_record(entry, pk, sk, indexed=True).save(condition=v.ActivityRecord.pk.does_not_exist())
        except PutError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def add_many(self, entries: Sequence[ActivityEntry]) -> list[ActivityEntry]:
        """Put entries as `add` puts each, in fewer writes: those there already (read in one batch)
        are skipped, the others put in one transaction per `TOGETHER`, each only where none is.
        A transaction refused (an entry put meanwhile by another delivery) puts none of its
        entries: those are returned, to be put one by one."""
        wanted = list({entry_key(e, self.shards): e for e in entries}.items())  # an entry named twice is one
        left: list[ActivityEntry] = []
        for start in range(0, len(wanted), TOGETHER):
            chunk = wanted[start:start + TOGETHER]
            there = {(rec.pk, rec.sk) for rec in v.ActivityRecord.batch_get(
                [key for key, _ in chunk], consistent_read=True, attributes_to_get=["pk", "sk"])}
            todo = [e for key, e in chunk if key not in there]
            if not todo:
                continue
            try:
                with transaction() as tx:
                    for entry in todo:
                        entry_op(entry, self.shards)(tx)
            except TransactWriteError as exc:
                if condition_failed(exc) or conflicted(exc):
                    left.extend(todo)
                    continue
                raise
        return left

    def order_ref(self, order_id: str) -> OrderRef | None:
        """An order's number and client, from the order (strongly consistent: it was just written),
        or, once it is gone, from what its delete kept; None when neither is there."""
        try:
            rec = r.OrderRecord.get(keys.order_pk(order_id), keys.ORDER_SK, consistent_read=True,
                                    attributes_to_get=["kind", "number", "client_id", "currency"])
            return OrderRef(number=rec.number, client_id=rec.client_id, currency=rec.currency)
        except DoesNotExist:
            pass
        kept = self.kept_deletion(order_id)
        if kept is None or kept.order_number is None or kept.client_id is None:
            return None
        return OrderRef(number=kept.order_number, client_id=kept.client_id, currency=kept.currency)

    def kept_deletion(self, order_id: str) -> ActivityEntry | None:
        """What a delete under way kept of the order before removing its records."""
        try:
            return mappers.activity_from(v.ActivityRecord.get(keys.deleted_order_pk(order_id), keys.DELETION_SK,
                                                              consistent_read=True))
        except DoesNotExist:
            return None

    def keep_deletion(self, entry: ActivityEntry) -> ActivityEntry:
        """Keep the deletion entry of an order before its records go, unless one is kept already
        (a delete resumed): the one kept. It expires with the entry it becomes."""
        assert entry.order_id is not None
        rec = mappers.activity_record(entry, keys.deleted_order_pk(entry.order_id), keys.DELETION_SK, indexed=False)
        try:
            rec.save(condition=v.ActivityRecord.pk.does_not_exist())
        except PutError as exc:
            if not condition_failed(exc):
                raise
            kept = self.kept_deletion(entry.order_id)
            if kept is not None:
                return kept
            raise
        return entry

    # -- the list -------------------------------------------------------------------------------

    def list_entries(self, f: ActivityFilter, limit: int, after: str | None) -> ActivityPage:
        """Entries newest first, `limit` at most, below the position `after` (exclusive)."""
        if f.order_number is not None:
            index: str | None = keys.BY_TYPE
            key_attr: Any = v.ActivityRecord.gsi4sk
            partitions = [keys.activity_order_partition(f.order_number)]
        else:
            index, key_attr = None, v.ActivityRecord.sk
            partitions = [keys.activity_pk(s) for s in range(self.shards)]
        low = f.from_
        high = f"{f.to}#{keys.MAX_SK}" if f.to is not None else None
        if after is not None and (high is None or after < high):
            high = after
        key_cond: Condition | None = None
        if low is not None and high is not None:
            key_cond = key_attr.between(low, high)
        elif low is not None:
            key_cond = key_attr >= low
        elif high is not None:
            key_cond = key_attr <= high
        filtered = f.actor is not None or f.type is not None
        budget = FILTERED_READ if filtered else limit + 1
        filt = _filter(f)

        def read(partition: str) -> tuple[list[tuple[str, v.ActivityRecord]], str | None]:
            pages = v.ActivityRecord.query(partition, range_key_condition=key_cond, filter_condition=filt,
                                           index_name=index, scan_index_forward=False, page_size=budget).page_iter
            page = next(pages)  # one request: at most `budget` entries read
            found = []
            for raw in page.get("Items", []):
                rec = v.ActivityRecord.from_raw_data(raw)
                position = rec.gsi4sk if index else rec.sk
                if position is not None and position != after:  # the cursor's own entry (inclusive bound)
                    found.append((position, rec))
            last = pages.last_evaluated_key
            read_to = last[key_attr.attr_name]["S"] if last else None
            return found, read_to

        from .order_lists import executor  # the list's pool of threads (imported here as it was from orders)

        results = list(executor().map(read, partitions)) if len(partitions) > 1 else [read(partitions[0])]
        return _merge(results, limit)


def _merge(results: list[tuple[list[tuple[str, v.ActivityRecord]], str | None]], limit: int) -> ActivityPage:
    """One page from the partitions' reads, newest first. A partition read only down to position p
    (more left below) tells nothing below p: the page holds only what is at or above the highest
    such p, where every partition was read, and the next page starts there."""
    frontier = max((read_to for _, read_to in results if read_to is not None), default=None)
    found = [(pos, rec) for part, _ in results for pos, rec in part if frontier is None or pos >= frontier]
    found.sort(key=lambda x: x[0], reverse=True)
    page = found[:limit]
    if len(found) > limit:
        last: str | None = page[-1][0]
    else:
        last = frontier
    return ActivityPage(entries=[mappers.activity_from(rec) for _, rec in page], last_position=last)


def _filter(f: ActivityFilter) -> Condition:
    # an entry past its time is gone, though the table's TTL may take up to days to remove it
    cond: Condition = v.ActivityRecord.ttl > utcnow()
    if f.actor is not None:
        cond &= v.ActivityRecord.actor == f.actor
    if f.type is not None:
        cond &= v.ActivityRecord.entry_type == f.type.value
    return cond
