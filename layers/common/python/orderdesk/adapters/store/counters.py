"""Order counts per status (and of orders needing attention), kept by the table's stream (`services.projections`), never by the
write paths: one record per write shard (no counter is a hot key), and beside each counted order
a record of what the counters hold of it (its status and the order version counted), so a stream
record delivered twice, or an older one after a newer, never moves a count."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from ...domain.errors import ConcurrentUpdate
from ...domain.queries import ATTENTION, Counted
from ...domain.statuses import OrderStatus
from . import keys
from . import records as r
from . import view_records as v
from .table import condition_failed, conflicted, transaction, translated


@translated
class Counters:
    def __init__(self, shards: int) -> None:
        self.shards = shards

    def status_counts(self) -> dict[str, int]:
        """Orders per status, and the orders needing attention (`ATTENTION`)."""
        columns = [s.value for s in OrderStatus] + [ATTENTION]
        counts = dict.fromkeys(columns, 0)
        for rec in r.StatsRecord.batch_get([(keys.stats_pk(s), keys.STATS_SK) for s in range(self.shards)]):
            for column in columns:
                counts[column] += int(getattr(rec, column) or 0)
        return counts

    def count(self, order_id: str, version: int, now: Counted | None, *, uncounted_was: Counted | None = None) -> bool:
        """Count `order_id` as `now` (None: no longer, the order is gone) as of its `version`.
        Moves its counts from what the counted-version record holds to `now`, at once with that
        record; nothing when a version this new was counted already. `uncounted_was`: what an order
        nobody counted yet is in the counters as (orders counted before this record existed).
        True when a count moved."""
        try:
            held = v.CountedRecord.get(keys.counted_pk(order_id), keys.COUNTED_SK, consistent_read=True)
        except DoesNotExist:
            held = None
        if held is not None and int(held.counted_version) >= version:
            return False
        before = Counted(OrderStatus(held.status), bool(held.attention)) if held is not None else uncounted_was
        if held is None and now is None and before is None:
            return False  # never counted, now gone
        moves = dict.fromkeys(before.columns() if before else (), -1)
        for column in now.columns() if now else ():
            moves[column] = moves.get(column, 0) + 1
        moves = {c: n for c, n in moves.items() if n}
        marker = v.CountedRecord(pk=keys.counted_pk(order_id), sk=keys.COUNTED_SK)
        guard = (v.CountedRecord.counted_version == held.counted_version) if held is not None \
            else v.CountedRecord.pk.does_not_exist()
        try:
            with transaction() as tx:
                if now is None:
                    tx.delete(marker, condition=guard)
                else:
                    tx.update(marker, actions=[v.CountedRecord.status.set(now.status.value),
                                               v.CountedRecord.attention.set(now.attention),
                                               v.CountedRecord.counted_version.set(version),
                                               v.CountedRecord.kind.set(v.CountedRecord)], condition=guard)
                if moves:
                    tx.update(r.StatsRecord(pk=keys.stats_pk(keys.shard_of(order_id, self.shards)), sk=keys.STATS_SK),
                              actions=[*(getattr(r.StatsRecord, c).add(n) for c, n in moves.items()),
                                       r.StatsRecord.kind.set(r.StatsRecord)])
        except TransactWriteError as exc:
            if condition_failed(exc):
                return False  # counted meanwhile by another delivery
            if conflicted(exc):
                raise ConcurrentUpdate(f"the counters of order {order_id} are busy") from exc
            raise
        return True
