"""Which order events EventBridge has taken: one small record per event id (`EVENT#<id>`), written
once the bus took the event, read before putting, so a stream record delivered again puts none
of its events a second time. Expires by the table's TTL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

from pynamodb.exceptions import PutError

from ...domain.model import iso, utcnow
from . import keys
from . import view_records as v
from .table import condition_failed, translated

_BATCH_GET = 100  # BatchGetItem's limit


@translated
class PublishedEvents:
    def __init__(self, ttl_days: int) -> None:
        self.ttl_days = ttl_days

    def published(self, event_ids: Sequence[str]) -> set[str]:
        """Those of `event_ids` the bus took already (strongly consistent reads)."""
        found: set[str] = set()
        wanted = list(dict.fromkeys(event_ids))
        for start in range(0, len(wanted), _BATCH_GET):
            chunk = [(keys.published_event_pk(i), keys.PUBLISHED_EVENT_SK) for i in wanted[start:start + _BATCH_GET]]
            found |= {rec.pk.removeprefix(keys.published_event_pk(""))
                      for rec in v.PublishedEventRecord.batch_get(chunk, consistent_read=True)}
        return found

    def mark_published(self, events: Iterable[tuple[str, str]]) -> list[str]:
        """Record `(event id, detail-type)` pairs as taken by the bus. Each is a put on the condition
        that no record of it exists; the ids that had one already are returned (put twice: by a
        delivery running at the same time, which the stream's one reader per shard rules out)."""
        now, expires = iso(utcnow()), utcnow() + timedelta(days=self.ttl_days)
        twice = []
        for event_id, detail_type in events:
            rec = v.PublishedEventRecord(pk=keys.published_event_pk(event_id), sk=keys.PUBLISHED_EVENT_SK,
                                         detail_type=detail_type, published_at=now, ttl=expires)
            try:
                rec.save(condition=v.PublishedEventRecord.pk.does_not_exist())
            except PutError as exc:
                if not condition_failed(exc):
                    raise
                twice.append(event_id)
        return twice
