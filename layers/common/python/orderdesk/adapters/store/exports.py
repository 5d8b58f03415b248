"""Exports of the orders list: one record each (`EXPORT#<id>`), moved on only by the run of the
export function that holds it (`run`), so a second delivery of the same start, or a run that lost
its claim, never changes what the first one wrote."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from ...domain.errors import ConcurrentUpdate, NotFound
from ...domain.exports import DONE, FAILED, RUNNING, Export
from . import keys
from . import records as r
from .table import condition_failed, translated


def _export_from(rec: r.ExportRecord) -> Export:
    return Export(id=rec.id, status=rec.status, filters=dict(rec.filters or {}), created_at=rec.created_at,
                  actor=rec.actor, rows=int(rec.rows or 0), updated_at=rec.updated_at, finished_at=rec.finished_at,
                  error=rec.error, key=rec.object_key, run=rec.run)


def _ref(export_id: str) -> r.ExportRecord:
    return r.ExportRecord(pk=keys.export_pk(export_id), sk=keys.EXPORT_SK)


@translated
class Exports:
    def create(self, export: Export, expires: datetime) -> None:
        rec = r.ExportRecord(pk=keys.export_pk(export.id), sk=keys.EXPORT_SK, id=export.id, status=export.status,
                             filters=export.filters, rows=export.rows, created_at=export.created_at,
                             updated_at=export.updated_at or export.created_at, actor=export.actor, ttl=expires)
        try:
            rec.save(condition=r.ExportRecord.pk.does_not_exist())
        except PutError as exc:
            if condition_failed(exc):
                raise ConcurrentUpdate("export id already taken") from exc
            raise

    def get(self, export_id: str) -> Export:
        try:
            return _export_from(r.ExportRecord.get(keys.export_pk(export_id), keys.EXPORT_SK, consistent_read=True))
        except DoesNotExist as exc:
            raise NotFound(f"export {export_id} not found (or expired)") from exc

    def claim(self, export_id: str, run: str, now: str) -> Export | None:
        """Make `run` the one writing the export, from the start (rows 0); None when it is not
        RUNNING any more (DONE, FAILED or gone): nothing to do."""
        rec = _ref(export_id)
        try:
            rec.update(actions=[r.ExportRecord.run.set(run), r.ExportRecord.rows.set(0),
                                r.ExportRecord.updated_at.set(now)],
                       condition=r.ExportRecord.status == RUNNING)
        except UpdateError as exc:
            if condition_failed(exc):
                return None
            raise
        return _export_from(rec)

    def progress(self, export_id: str, run: str, rows: int, now: str) -> bool:
        """`rows` written so far by `run`; False when another run took the export over (or it ended)."""
        return self._move(export_id, run, [r.ExportRecord.rows.set(rows), r.ExportRecord.updated_at.set(now)])

    def finish(self, export_id: str, run: str, rows: int, key: str, now: str) -> bool:
        return self._move(export_id, run, [r.ExportRecord.status.set(DONE), r.ExportRecord.rows.set(rows),
                                           r.ExportRecord.object_key.set(key), r.ExportRecord.finished_at.set(now),
                                           r.ExportRecord.updated_at.set(now)])

    def fail(self, export_id: str, run: str | None, error: str, now: str) -> bool:
        """FAILED with why; `run` None: whoever holds it (the export never started)."""
        return self._move(export_id, run, [r.ExportRecord.status.set(FAILED), r.ExportRecord.error.set(error[:1000]),
                                           r.ExportRecord.finished_at.set(now), r.ExportRecord.updated_at.set(now)])

    @staticmethod
    def _move(export_id: str, run: str | None, actions: list) -> bool:  # type: ignore[type-arg]
        condition = r.ExportRecord.status == RUNNING
        if run is not None:
            condition &= r.ExportRecord.run == run
        try:
            _ref(export_id).update(actions=actions, condition=condition)
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True
