"""Order counts per status in memory (`CounterStore`), with the semantics of
`adapters.store.counters`: beside the counts, what they hold of each order (its status and the
order version counted), so a change counted twice, or an older one after a newer, moves nothing."""

from __future__ import annotations

from orderdesk.domain.statuses import OrderStatus

from .state import MemoryState


class MemoryCounters:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    def status_counts(self) -> dict[OrderStatus, int]:
        with self.s.lock:
            return dict(self.s.counts)

    def count(self, order_id: str, version: int, status: OrderStatus | None, *,
              uncounted_was: OrderStatus | None = None) -> bool:
        with self.s.lock:
            held = self.s.counted.get(order_id)
            if held is not None and held[1] >= version:
                return False
            before = held[0] if held is not None else uncounted_was
            if held is None and status is None and before is None:
                return False  # never counted, now gone
            if status is None:
                self.s.counted.pop(order_id, None)
            else:
                self.s.counted[order_id] = (status, version)
            if before is not None:
                self.s.counts[before] -= 1
            if status is not None:
                self.s.counts[status] += 1
            return True
