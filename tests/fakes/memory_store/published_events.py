"""Which order events the bus has taken, in memory (`PublishedEventStore`), with the semantics of
`adapters.store.published_events`: an event id marked once; marking it again says it was."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .state import MemoryState


class MemoryPublishedEvents:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    def published(self, event_ids: Sequence[str]) -> set[str]:
        with self.s.lock:
            return {event_id for event_id in event_ids if event_id in self.s.published}

    def mark_published(self, events: Iterable[tuple[str, str]]) -> list[str]:
        """The ids that were marked already (each put is conditional on none, one by one)."""
        twice = []
        with self.s.lock:
            for event_id, detail_type in events:
                if event_id in self.s.published:
                    twice.append(event_id)
                else:
                    self.s.published[event_id] = detail_type
        return twice
