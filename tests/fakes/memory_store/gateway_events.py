"""`GatewayEventStore` in memory, with the semantics of `adapters.store.gateway_events`: an event
kept once per gateway and id (the first stands), the unmatched ones listed newest first by the
time they were kept, and the invoice each noted payment was recorded on."""

from __future__ import annotations

from orderdesk.domain.gateway_events import GatewayEvent, GatewayEventPage

from .state import MemoryState


class MemoryGatewayEvents:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    def get_event(self, gateway: str, event_id: str) -> GatewayEvent | None:
        with self.s.lock:
            found = self.s.gateway_events.get((gateway, event_id))
            return found[0] if found is not None else None

    def put_event(self, event: GatewayEvent) -> bool:
        with self.s.lock:
            key = (event.gateway, event.id)
            if key in self.s.gateway_events:
                return False
            # as the table's sort key: received (seconds), then the write time, then the id
            self.s.gateway_events[key] = (event, f"{event.received_at}#{self.s.write_time():020d}#{event.id}")
            return True

    def list_unmatched(self, gateway: str, limit: int, after_key: str | None) -> GatewayEventPage:
        with self.s.lock:
            listed = sorted(((sort_key, event) for (g, _), (event, sort_key) in self.s.gateway_events.items()
                             if g == gateway and event.unmatched), key=lambda pair: pair[0], reverse=True)
        if after_key is not None:
            listed = [(k, e) for k, e in listed if k < after_key]
        page = listed[:limit]
        return GatewayEventPage(events=[e for _, e in page],
                                last_key=page[-1][0] if len(listed) > limit and page else None)

    def note_payment(self, gateway: str, transaction_id: str, invoice_id: str) -> None:
        with self.s.lock:
            self.s.gateway_payments[(gateway, transaction_id)] = invoice_id

    def invoice_of_payment(self, gateway: str, transaction_ids: list[str]) -> str | None:
        with self.s.lock:
            for txn in transaction_ids:
                if txn and (gateway, txn) in self.s.gateway_payments:
                    return self.s.gateway_payments[(gateway, txn)]
        return None
