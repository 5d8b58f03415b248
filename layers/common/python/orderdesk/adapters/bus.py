"""EventBridge: put OrderDesk's events on its bus, through `aws.client("events")` (the endpoint
comes from botocore: AWS_ENDPOINT_URL_EVENTBRIDGE locally, never from code).

PutEvents can take some entries of a call and refuse others (`FailedEntryCount`, an `ErrorCode`
per refused entry, in request order): those are sent again, with the calls that failed as a whole
for a reason worth retrying (a throttle, a 5xx, a dropped connection), a few times with backoff.
What is still not taken then raises `EventsNotPut`, which says which events were taken, so the
caller can remember those and let the rest be retried."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..domain.errors import TransientError
from . import aws

SOURCE = "orderdesk"
_BATCH = 10  # PutEvents takes at most ten entries


@dataclass(frozen=True)
class BusEvent:
    id: str  # ours, deterministic; EventBridge gives each put its own `id`
    detail_type: str
    detail: dict[str, Any]


class EventsNotPut(TransientError):
    """Some events were not taken by the bus; `taken` are the ids of those that were."""

    def __init__(self, message: str, taken: set[str]) -> None:
        super().__init__(message)
        self.taken = taken


def put_events(bus: str, events: Sequence[BusEvent], *, attempts: int = 4, pause: float = 0.05) -> None:
    """Put `events` on `bus` in their order, ten to a call. A later call is not made while an
    earlier one's events are not all taken; raises EventsNotPut naming what was."""
    taken: set[str] = set()
    for start in range(0, len(events), _BATCH):
        pending = list(events[start:start + _BATCH])
        problem = ""
        for attempt in range(attempts):
            try:
                resp = aws.client("events").put_events(Entries=[_entry(bus, e) for e in pending])
            except aws.sdk_errors() as exc:
                problem = f"{type(exc).__name__} ({aws.error_code(exc) or 'no code'})"
                if not aws.is_transient(exc):  # refused (access, no such bus): only a later retry may help
                    raise EventsNotPut(f"EventBridge refused the events: {problem}", taken) from exc
            else:
                refused = []
                for event, result in zip(pending, resp.get("Entries", []), strict=False):
                    if result.get("EventId") and not result.get("ErrorCode"):
                        taken.add(event.id)
                    else:
                        refused.append(event)
                        problem = str(result.get("ErrorCode") or "no EventId")
                # entries missing from the answer (never seen) count as refused
                refused += pending[len(resp.get("Entries", [])):]
                pending = refused
            if not pending:
                break
            if attempt < attempts - 1:
                time.sleep(pause * 2**attempt)
        if pending:
            raise EventsNotPut(f"EventBridge did not take {len(pending)} of {len(events)} event(s) after "
                               f"{attempts} attempts: {problem}", taken)


def _entry(bus: str, event: BusEvent) -> dict[str, Any]:
    return {"EventBusName": bus, "Source": SOURCE, "DetailType": event.detail_type,
            "Detail": json.dumps(event.detail, separators=(",", ":"), sort_keys=False)}
