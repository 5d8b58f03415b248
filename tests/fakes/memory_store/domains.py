"""Domains and their registrars in memory (`DomainStore`), with the semantics of
`adapters.store.domains`: a domain's items found by its name (on any order still there, as the
lookup records written at create and deleted with the order find them), the domains whose
registration is pending, oldest first, and a registrar's event recorded once with the changes it
makes, all or nothing."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from orderdesk.domain.changes import OrderChange
from orderdesk.domain.model import Order, RegistrationState

from .order_writes import attention_after, change_holds, write_change
from .state import MemoryState


def _name(domain: str) -> str:
    return domain.strip().rstrip(".").lower()


class MemoryDomains:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    def items_of(self, domain: str) -> list[tuple[str, str]]:
        with self.s.lock:
            return [(order_id, item.id) for order_id, p in self.s.partitions.items() for item in p.items.values()
                    if item.domain and _name(item.domain) == _name(domain)]

    def waiting(self) -> Iterator[tuple[str, str]]:
        with self.s.lock:  # a snapshot: the caller changes items while it iterates
            found = sorted((item.registration.since or "", order_id, item.id)
                           for order_id, p in self.s.partitions.items() for item in p.items.values()
                           if item.registration is not None and item.registration.state == RegistrationState.PENDING)
        yield from ((order_id, item_id) for _, order_id, item_id in found)

    def event_seen(self, event_id: str) -> bool:
        with self.s.lock:
            return event_id in self.s.registrar_events

    def record_event(self, event_id: str, domain: str, status: str,
                     changes: Sequence[tuple[Order, OrderChange]]) -> bool:
        with self.s.lock:
            if event_id in self.s.registrar_events:
                return False
            planned = [(order, change, attention_after(self.s, order, change, None)) for order, change in changes]
            for order, change, _ in planned:
                p = self.s.partition(order.id)
                if p is None or not change_holds(self.s, p, order, change, None):
                    self.s.refused(order.id)
            for order, change, attention in planned:
                p = self.s.partition(order.id)
                assert p is not None
                write_change(self.s, p, order, change, attention)
            self.s.registrar_events[event_id] = domain
            return True
