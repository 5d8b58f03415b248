"""The activity log (SPEC §7 "Audit"): `GET /activity`, and the entry a delete leaves.

The entries of changes are kept from the table's stream (`projections.activity`); a delete writes
its own, since what it must say (the number, client, total, every payment and refund) goes with
the order's records: it is read whole and kept before any record goes (`keep_deletion`), and
written to the log in the very transaction that removes the order record, so the log says an
order is deleted exactly when it is."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..config import get_settings
from ..domain.activity import ActivityEntry, ActivityFilter, deletion_of, keep_until
from ..domain.model import Order, iso, utcnow
from . import cursor
from .orders import time_bound
from .ports import stores

if TYPE_CHECKING:  # annotations only: the models (and pydantic) load with the request that carries one
    from ..schemas import ActivityQuery


@dataclass
class ActivityList:
    entries: list[ActivityEntry]
    next_cursor: str | None


def list_activity(query: ActivityQuery) -> ActivityList:
    """Newest first. A page reads a bounded number of entries, so with `actor` or `type` it may
    hold fewer than `limit`, even none, and still a `next_cursor`."""
    f = ActivityFilter(from_=time_bound(query.from_, upper=False, field="from"),
                       to=time_bound(query.to, upper=True, field="to"),
                       actor=query.actor, order_number=query.order_number, type=query.type)
    fp = cursor.fingerprint({"activity": True, **f.__dict__})
    after = cursor.decode(query.cursor, fp) if query.cursor else None
    page = stores().activity.list_entries(f, query.limit, after)
    return ActivityList(entries=page.entries,
                        next_cursor=cursor.encode(page.last_position, fp) if page.last_position else None)


def keep_deletion(order_id: str, actor: str) -> ActivityEntry:
    """Before a delete removes an order's records: what its entry will say, read from the order
    whole and kept (a resumed delete finds what the first one kept: the records may be gone)."""
    data = stores()
    kept = data.activity.kept_deletion(order_id)
    if kept is not None:
        return kept
    order: Order = data.orders.get_order(order_id)
    return data.activity.keep_deletion(deletion_of(order, actor=actor, at=iso(utcnow()), written_ns=time.time_ns(),
                                                   retention_days=get_settings().audit_retention_days))


def deletion_entry(kept: ActivityEntry) -> ActivityEntry:
    """The entry as the delete's last write puts it: at that moment, kept that long from then."""
    now = iso(utcnow())
    return replace(kept, at=now, written_ns=time.time_ns(),
                   keep_until=keep_until(now, get_settings().audit_retention_days))
