"""The activity log in memory (`ActivityStore`), with the semantics of `adapters.store.activity`:
an entry put once by its key (time, write time, source), what a delete keeps of its order, an
order's number from the order or, once it is gone, from what its delete kept, and the list newest
first with its filters (entries past their time left out). A page here is never short: the
DynamoDB list bounds what it reads per page, which a dict need not."""

from __future__ import annotations

from collections.abc import Sequence

from orderdesk.adapters.store.keys import MAX_SK, activity_sk
from orderdesk.domain.activity import ActivityEntry, ActivityFilter, ActivityPage, OrderRef
from orderdesk.domain.model import utcnow

from .state import MemoryState, clone


def position_of(entry: ActivityEntry) -> str:
    """Where an entry sorts (and a cursor points): the table's sort key of it."""
    return activity_sk(entry.at, entry.written_ns, entry.source)


class MemoryActivity:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    def add(self, entry: ActivityEntry) -> bool:
        with self.s.lock:
            return self.s.add_activity(entry)

    def add_many(self, entries: Sequence[ActivityEntry]) -> list[ActivityEntry]:
        with self.s.lock:  # nothing is put between them, so none is left over
            for entry in entries:
                self.s.add_activity(entry)
        return []

    def order_ref(self, order_id: str) -> OrderRef | None:
        with self.s.lock:
            header = self.s.header(order_id)
            if header is not None:
                return OrderRef(number=header.number, client_id=header.client.id, currency=header.currency)
            kept = self.s.kept_deletions.get(order_id)
            if kept is None or kept.order_number is None or kept.client_id is None:
                return None
            return OrderRef(number=kept.order_number, client_id=kept.client_id, currency=kept.currency)

    def kept_deletion(self, order_id: str) -> ActivityEntry | None:
        with self.s.lock:
            return clone(self.s.kept_deletions.get(order_id))

    def keep_deletion(self, entry: ActivityEntry) -> ActivityEntry:
        assert entry.order_id is not None
        with self.s.lock:
            return clone(self.s.kept_deletions.setdefault(entry.order_id, clone(entry)))

    def list_entries(self, f: ActivityFilter, limit: int, after: str | None) -> ActivityPage:
        now = utcnow()
        high = f"{f.to}#{MAX_SK}" if f.to is not None else None
        with self.s.lock:
            found = sorted(((pos, e) for pos, e in self.s.activity.items()
                            if e.keep_until > now
                            and (f.from_ is None or pos >= f.from_) and (high is None or pos <= high)
                            and (after is None or pos < after)
                            and (f.actor is None or e.actor == f.actor)
                            and (f.type is None or e.type is f.type)
                            and (f.order_number is None or e.order_number == f.order_number)),
                           key=lambda x: x[0], reverse=True)
            page = found[:limit]
            return ActivityPage(entries=[clone(e) for _, e in page],
                                last_position=page[-1][0] if len(found) > limit else None)
