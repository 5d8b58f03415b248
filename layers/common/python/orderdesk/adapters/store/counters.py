"""Order counts per status (and of orders needing attention), kept by the table's stream (`services.projections`), never by the
write paths: one record per write shard (no counter is a hot key), and beside each counted order
a record of what the counters hold of it (its status and the order version counted), so a stream
record delivered twice, or an older one after a newer, never moves a count."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from ...domain.errors import ConcurrentUpdate
from ...domain.queries import ATTENTION, CountChange, Counted
from ...domain.statuses import OrderStatus
from . import keys
from . import records as r
from . import view_records as v
from .table import condition_failed, conflicted, transaction, translated

TOGETHER = 100  # items in one transaction: orders' counted-version records and the shards' counts


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
        change = CountChange(order_id, version, now, uncounted_was)
        try:
            held = v.CountedRecord.get(keys.counted_pk(order_id), keys.COUNTED_SK, consistent_read=True)
        except DoesNotExist:
            held = None
        plan = _plan(change, held)
        if plan is None:
            return False
        try:
            with transaction() as tx:
                self._write(tx, [plan])
        except TransactWriteError as exc:
            if condition_failed(exc):
                return False  # counted meanwhile by another delivery
            if conflicted(exc):
                raise ConcurrentUpdate(f"the counters of order {order_id} are busy") from exc
            raise
        return True

    def count_many(self, changes: Sequence[CountChange]) -> list[CountChange]:
        """Count changes of distinct orders together, as `count` counts each: their counted-version
        records read in one batch, then written with each shard's summed moves in one transaction
        per `TOGETHER` orders. A transaction refused (an order counted meanwhile by another
        delivery, a concurrent count of a shard) counts none of its orders: those are returned, to
        be counted one by one."""
        if len({c.order_id for c in changes}) != len(changes):
            raise ValueError("count_many counts one change per order")
        together = max(1, TOGETHER - self.shards)
        left: list[CountChange] = []
        for start in range(0, len(changes), together):
            chunk = changes[start:start + together]
            held = {rec.pk: rec for rec in v.CountedRecord.batch_get(
                [(keys.counted_pk(c.order_id), keys.COUNTED_SK) for c in chunk], consistent_read=True)}
            plans = [p for c in chunk if (p := _plan(c, held.get(keys.counted_pk(c.order_id)))) is not None]
            if not plans:
                continue
            try:
                with transaction() as tx:
                    self._write(tx, plans)
            except TransactWriteError as exc:
                if condition_failed(exc) or conflicted(exc):
                    left.extend(p.change for p in plans)
                    continue
                raise
        return left

    def _write(self, tx: TransactWrite, plans: list[_Plan]) -> None:
        """Each plan's counted-version record, guarded by what was read of it, and each shard's
        summed moves."""
        by_shard: dict[int, dict[str, int]] = {}
        for plan in plans:
            change = plan.change
            marker = v.CountedRecord(pk=keys.counted_pk(change.order_id), sk=keys.COUNTED_SK)
            guard = (v.CountedRecord.counted_version == plan.held_version) if plan.held_version is not None \
                else v.CountedRecord.pk.does_not_exist()
            if change.now is None:
                tx.delete(marker, condition=guard)
            else:
                tx.update(marker, actions=[v.CountedRecord.status.set(change.now.status.value),
                                           v.CountedRecord.attention.set(change.now.attention),
                                           v.CountedRecord.counted_version.set(change.version),
                                           v.CountedRecord.kind.set(v.CountedRecord)], condition=guard)
            shard = by_shard.setdefault(keys.shard_of(change.order_id, self.shards), {})
            for column, n in plan.moves.items():
                shard[column] = shard.get(column, 0) + n
        for shard_no, moves in sorted(by_shard.items()):
            moves = {c: n for c, n in moves.items() if n}
            if moves:
                tx.update(r.StatsRecord(pk=keys.stats_pk(shard_no), sk=keys.STATS_SK),
                          actions=[*(getattr(r.StatsRecord, c).add(n) for c, n in sorted(moves.items())),
                                   r.StatsRecord.kind.set(r.StatsRecord)])


@dataclass(frozen=True)
class _Plan:
    change: CountChange
    held_version: int | None  # the counted version read (None: no record), which the write requires still
    moves: dict[str, int]


def _plan(change: CountChange, held: v.CountedRecord | None) -> _Plan | None:
    """What counting a change writes, given the order's counted-version record as read; None when
    there is nothing to count (this version or a newer one counted, or never counted and gone)."""
    if held is not None and int(held.counted_version) >= change.version:
        return None
    before = Counted(OrderStatus(held.status), bool(held.attention)) if held is not None else change.uncounted_was
    if held is None and change.now is None and before is None:
        return None  # never counted, now gone
    moves = dict.fromkeys(before.columns() if before else (), -1)
    for column in change.now.columns() if change.now else ():
        moves[column] = moves.get(column, 0) + 1
    return _Plan(change, int(held.counted_version) if held is not None else None,
                 {c: n for c, n in moves.items() if n})
