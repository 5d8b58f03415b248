"""Exports and daily statistics in memory (`ExportStore`, `DailyStatsStore`), with the semantics
of `adapters.store.exports` and `adapters.store.daily_stats`: an export moved on only by the run
that claimed it last, and only while RUNNING; a day's counts added to once per happening, money
summed exactly per currency."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from orderdesk.domain.errors import ConcurrentUpdate, NotFound
from orderdesk.domain.exports import DONE, FAILED, RUNNING, Export
from orderdesk.domain.stats import COUNTERS, FRAUD_DECISIONS, PAYMENTS, REFUNDS, DailyEvent, DayCounts, currency_code

from .state import MemoryState, clone


class MemoryExports:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    def create(self, export: Export, expires: datetime) -> None:
        with self.s.lock:
            if export.id in self.s.exports:
                raise ConcurrentUpdate("export id already taken")
            self.s.exports[export.id] = replace(clone(export), updated_at=export.updated_at or export.created_at)

    def get(self, export_id: str) -> Export:
        with self.s.lock:
            if export_id not in self.s.exports:
                raise NotFound(f"export {export_id} not found (or expired)")
            return clone(self.s.exports[export_id])

    def claim(self, export_id: str, run: str, now: str) -> Export | None:
        with self.s.lock:
            found = self.s.exports.get(export_id)
            if found is None or found.status != RUNNING:
                return None
            found.run, found.rows, found.updated_at = run, 0, now
            return clone(found)

    def progress(self, export_id: str, run: str, rows: int, now: str) -> bool:
        return self._move(export_id, run, rows=rows, updated_at=now)

    def finish(self, export_id: str, run: str, rows: int, key: str, now: str) -> bool:
        return self._move(export_id, run, status=DONE, rows=rows, key=key, finished_at=now, updated_at=now)

    def fail(self, export_id: str, run: str | None, error: str, now: str) -> bool:
        return self._move(export_id, run, status=FAILED, error=error[:1000], finished_at=now, updated_at=now)

    def _move(self, export_id: str, run: str | None, **fields: object) -> bool:
        with self.s.lock:
            found = self.s.exports.get(export_id)
            if found is None or found.status != RUNNING or (run is not None and found.run != run):
                return False
            self.s.exports[export_id] = replace(found, **fields)  # type: ignore[arg-type]
            return True


class MemoryDailyStats:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    def count(self, event: DailyEvent) -> bool:
        with self.s.lock:
            if event.id in self.s.daily_counted:
                return False
            if event.counter != "fraud_check" and event.counter not in COUNTERS:
                raise ValueError(f"no daily counter {event.counter!r}")
            self.s.daily_counted.add(event.id)
            day = self.s.days.setdefault(event.day, DayCounts(date=event.day))
            if event.counter == "fraud_check":
                decision = event.decision if event.decision in FRAUD_DECISIONS else "error"
                day.fraud_checks[decision] = day.fraud_checks.get(decision, 0) + 1
                return True
            setattr(day, event.counter, getattr(day, event.counter) + 1)
            if event.amount is not None and event.counter in (PAYMENTS, REFUNDS):
                sums = day.payment_amounts if event.counter == PAYMENTS else day.refund_amounts
                code = currency_code(event.currency)
                sums[code] = sums.get(code, Decimal(0)) + event.amount
            return True

    def count_many(self, events: Sequence[DailyEvent]) -> tuple[list[DailyEvent], list[DailyEvent]]:
        with self.s.lock:  # nothing counts between them, so none is left over
            return [e for e in events if self.count(e)], []

    def days(self, first: str, last: str) -> list[DayCounts]:
        with self.s.lock:
            return [clone(self.s.days[d]) for d in sorted(self.s.days) if first <= d <= last]
