"""Order counts per status, kept by the table's stream (`services.projections`), never by the
write paths: one record per write shard (no counter is a hot key), and beside each counted order
a record of what the counters hold of it (its status and the order version counted), so a stream
record delivered twice, or an older one after a newer, never moves a count."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from ...domain.errors import ConcurrentUpdate
from ...domain.statuses import OrderStatus
from . import keys
from . import records as r
from .table import condition_failed, conflicted, transaction, translated


@translated
class Counters:
    def __init__(self, shards: int) -> None:
        self.shards = shards

    def status_counts(self) -> dict[OrderStatus, int]:
        counts = dict.fromkeys(OrderStatus, 0)
        for rec in r.StatsRecord.batch_get([(keys.stats_pk(s), keys.STATS_SK) for s in range(self.shards)]):
            for status in OrderStatus:
                counts[status] += int(getattr(rec, status.value) or 0)
        return counts

    def count(self, order_id: str, version: int, status: OrderStatus | None, *,
              uncounted_was: OrderStatus | None = None) -> bool:
        """Count `order_id` in `status` (None: no longer, the order is gone) as of its `version`.
        Moves one count from the status recorded as counted to `status`, at once with that record;
        nothing when a version this new was counted already. `uncounted_was`: the status an order
        nobody counted yet is in the counters with (orders counted before this record existed).
        True when a count moved."""
        try:
            held = r.CountedRecord.get(keys.counted_pk(order_id), keys.COUNTED_SK, consistent_read=True)
        except DoesNotExist:
            held = None
        if held is not None and int(held.counted_version) >= version:
            return False
        before = OrderStatus(held.status) if held is not None else uncounted_was
        if held is None and status is None and before is None:
            return False  # never counted, now gone
        marker = r.CountedRecord(pk=keys.counted_pk(order_id), sk=keys.COUNTED_SK)
        guard = (r.CountedRecord.counted_version == held.counted_version) if held is not None \
            else r.CountedRecord.pk.does_not_exist()
        try:
            with transaction() as tx:
                if status is None:
                    tx.delete(marker, condition=guard)
                else:
                    tx.update(marker, actions=[r.CountedRecord.status.set(status.value),
                                               r.CountedRecord.counted_version.set(version),
                                               r.CountedRecord.kind.set(r.CountedRecord)], condition=guard)
                moves: dict[OrderStatus, int] = {}
                if before is not None:
                    moves[before] = moves.get(before, 0) - 1
                if status is not None:
                    moves[status] = moves.get(status, 0) + 1
                moves = {s: n for s, n in moves.items() if n}
                if moves:
                    tx.update(r.StatsRecord(pk=keys.stats_pk(keys.shard_of(order_id, self.shards)), sk=keys.STATS_SK),
                              actions=[*(getattr(r.StatsRecord, s.value).add(n) for s, n in moves.items()),
                                       r.StatsRecord.kind.set(r.StatsRecord)])
        except TransactWriteError as exc:
            if condition_failed(exc):
                return False  # counted meanwhile by another delivery
            if conflicted(exc):
                raise ConcurrentUpdate(f"the counters of order {order_id} are busy") from exc
            raise
        return True
