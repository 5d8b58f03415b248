"""Order counts per status, and of orders needing attention, in memory (`CounterStore`), with the
semantics of `adapters.store.counters`: beside the counts, what they hold of each order (its status,
whether it needs attention, and the order version counted), so a change counted twice, or an older
one after a newer, moves nothing."""

from __future__ import annotations

from collections.abc import Sequence

from orderdesk.domain.queries import CountChange, Counted

from .state import MemoryState


class MemoryCounters:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    def status_counts(self) -> dict[str, int]:
        with self.s.lock:
            return dict(self.s.counts)

    def count(self, order_id: str, version: int, now: Counted | None, *, uncounted_was: Counted | None = None) -> bool:
        with self.s.lock:
            held = self.s.counted.get(order_id)
            if held is not None and held[1] >= version:
                return False
            before = held[0] if held is not None else uncounted_was
            if held is None and now is None and before is None:
                return False  # never counted, now gone
            if now is None:
                self.s.counted.pop(order_id, None)
            else:
                self.s.counted[order_id] = (now, version)
            for column in before.columns() if before is not None else ():
                self.s.counts[column] -= 1
            for column in now.columns() if now is not None else ():
                self.s.counts[column] += 1
            return True

    def count_many(self, changes: Sequence[CountChange]) -> list[CountChange]:
        if len({c.order_id for c in changes}) != len(changes):
            raise ValueError("count_many counts one change per order")
        with self.s.lock:  # nothing counts between them, so none is left over
            for c in changes:
                self.count(c.order_id, c.version, c.now, uncounted_was=c.uncounted_was)
        return []
