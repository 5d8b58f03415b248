"""Exports of the orders list as CSV files: POST /exports starts one, the export function
(`functions/export_orders`) writes it, GET /exports/{id} says how far it got and, once done,
hands out a presigned URL of the file. The file never passes through the API.

Starting: the export's record (RUNNING, 0 rows), then one asynchronous invocation of the export
function (`adapters.invoke`): Lambda's own queue holds the event, retries a failed run twice and
parks an event it gave up on in the function's on-failure queue.

Writing: exactly what GET /orders lists with the same filters, in the same order (newest first):
the run pages through `orders.list_orders` itself, 100 orders a page, and appends each page's
rows to a buffer that goes to S3 as one part of a multipart upload whenever it holds a part's
worth (`EXPORT_PART_BYTES`, 5 MiB at least), so it holds one part and one page at most, whatever
the file's size. The rows written so far are recorded after every page.

Runs: each delivery of the start claims the export (`claim`: the rows start again from 0) and
writes its own object (`exports/<id>/<run>.csv`), and only the run holding the claim may record
progress, the end or a failure; a run that finds its claim taken stops and frees its parts. A
transient failure (S3 or DynamoDB busy) is raised so that Lambda runs the export again; anything
else ends it FAILED with why. A run that died outright (timeout, out of memory) after Lambda's
last retry leaves a record with no progress: it is ended FAILED when read after
`STALE_MINUTES`."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ..adapters import export_files, invoke
from ..config import get_settings
from ..domain.errors import OrderDeskError, PermanentError, TransientError, ValidationFailed
from ..domain.exports import DONE, FAILED, HEADINGS, RUNNING, Export, row_of
from ..domain.model import iso, new_id, utcnow
from ..observability import logger
from .ports import stores

KEEP_DAYS = 7  # the bucket's lifecycle expires the files after this; the records go with them
URL_SECONDS = 15 * 60  # how long a download link works
STALE_MINUTES = 10  # RUNNING with no progress for this long: the run died and will not come back
PAGE = 100  # the orders list's largest page
STOP_BEFORE_MS = 30_000  # give up while there is time left to say so
BOM = "\ufeff"  # spreadsheets read the file as UTF-8 (names with accents) only with it


class ExportTooLong(PermanentError):
    """The function's time ran out before the last page: narrower filters make a smaller file."""


class ClaimLost(Exception):
    """Another delivery of the same start took the export over."""


# -- the API ---------------------------------------------------------------------------------------


def start_export(filters: dict[str, Any], actor: str) -> Export:
    """Record the export and start its function; the export as recorded (RUNNING, 0 rows)."""
    settings = get_settings()
    if not settings.export_bucket or not settings.export_function_name:
        raise PermanentError("exports are not configured here (EXPORT_BUCKET, EXPORT_FUNCTION_NAME)")
    _first_page(filters, 1)  # bad filters are a 400 now, not a FAILED export later
    now = utcnow()
    export = Export(id=new_id(), status=RUNNING, filters=filters, created_at=iso(now), actor=actor,
                    updated_at=iso(now))
    data = stores()
    data.exports.create(export, now + timedelta(days=KEEP_DAYS))
    try:
        invoke.start(settings.export_function_name, {"export_id": export.id})
    except OrderDeskError as exc:
        data.exports.fail(export.id, None, f"the export function could not be started: {exc.message}", iso(utcnow()))
        raise
    return export


def get_export(export_id: str) -> dict[str, Any]:
    """The export as the API shows it: status, rows so far and, once DONE, a download URL valid
    `URL_SECONDS` from now."""
    data = stores()
    export = data.exports.get(export_id)
    if export.status == RUNNING and _stale(export):
        data.exports.fail(export.id, export.run, "the export stopped without finishing; start it again",
                          iso(utcnow()))
        export = data.exports.get(export_id)
    view = shown(export)
    if export.status == DONE and export.key:
        name = file_name(export)
        view.update(file_name=name, url=export_files.download_url(get_settings().export_bucket or "", export.key,
                                                                   name, URL_SECONDS),
                    url_expires_at=iso(utcnow() + timedelta(seconds=URL_SECONDS)))
    return view


def shown(export: Export) -> dict[str, Any]:
    """The export as the API shows it, without a download URL."""
    return {"id": export.id, "status": export.status, "rows": export.rows, "url": None, "url_expires_at": None,
            "file_name": None, "filters": export.filters, "requested_by": export.actor,
            "created_at": export.created_at, "finished_at": export.finished_at, "error": export.error}


def file_name(export: Export) -> str:
    """What the browser saves the file as: orders-20260302-101500.csv (the time it was asked for)."""
    stamp = export.created_at.replace("-", "").replace(":", "").replace("T", "-").rstrip("Z")
    return f"orders-{stamp}.csv"


def _stale(export: Export) -> bool:
    try:
        seen = datetime.fromisoformat(export.updated_at.replace("Z", "+00:00"))
    except ValueError:
        return False
    return utcnow() - seen > timedelta(minutes=STALE_MINUTES)


# -- the export function ---------------------------------------------------------------------------


def run_export(export_id: str, remaining_ms: Callable[[], int]) -> dict[str, Any]:
    """Write the export's file (one delivery of its start). `remaining_ms`: the time this run has
    left (the Lambda context's)."""
    data, run = stores(), new_id()
    export = data.exports.claim(export_id, run, iso(utcnow()))
    if export is None:
        return {"export_id": export_id, "outcome": "nothing to do"}  # DONE, FAILED or gone
    settings = get_settings()
    key = f"exports/{export.id}/{run}.csv"
    upload: export_files.MultipartFile | None = None
    try:
        upload = export_files.MultipartFile(settings.export_bucket or "", key)
        rows = _write(export, run, upload, settings.export_part_bytes, remaining_ms)
    except ClaimLost:
        _abort(upload)
        return {"export_id": export_id, "outcome": "taken over by another run"}
    except TransientError:
        _abort(upload)
        raise  # Lambda runs it again
    except Exception as exc:
        _abort(upload)
        why = exc.message if isinstance(exc, OrderDeskError) else f"internal error ({type(exc).__name__})"
        data.exports.fail(export.id, run, why, iso(utcnow()))
        if not isinstance(exc, OrderDeskError):
            raise  # a bug: the function's Errors alarm should see it (the retry finds it FAILED)
        logger.warning("export failed", extra={"export_id": export.id, "error": why})
        return {"export_id": export_id, "outcome": FAILED}
    if not data.exports.finish(export.id, run, rows, key, iso(utcnow())):
        return {"export_id": export_id, "outcome": "taken over by another run"}  # its file expires unread
    return {"export_id": export_id, "outcome": DONE, "rows": rows}


def _write(export: Export, run: str, upload: export_files.MultipartFile, part_bytes: int,
           remaining_ms: Callable[[], int]) -> int:
    """Page through the list into parts; the rows written."""
    pending = bytearray((BOM + _lines([list(HEADINGS)])).encode("utf-8"))
    rows, cursor = 0, None
    while True:
        if remaining_ms() < STOP_BEFORE_MS:
            raise ExportTooLong(f"the export took longer than its function may run, after {rows} rows: "
                                "export fewer orders at a time (narrower filters)")
        orders, cursor = _page(export.filters, cursor)
        pending += _lines([row_of(order) for order in orders]).encode("utf-8")
        rows += len(orders)
        if len(pending) >= part_bytes:
            upload.upload(pending)  # sent as it is: a copy would hold the part twice
            pending.clear()
        if not stores().exports.progress(export.id, run, rows, iso(utcnow())):
            raise ClaimLost(export.id)
        if cursor is None:
            break
    upload.upload(pending)  # the last part may be smaller; it holds the header at least
    pending.clear()
    upload.complete()
    return rows


def _lines(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)  # RFC 4180: quoted when needed, CRLF line ends
    return out.getvalue()


def _query(filters: dict[str, Any], limit: int, cursor: str | None) -> Any:
    from ..schemas import OrderQuery  # pydantic: loaded by the export function, never on the API's import

    return OrderQuery.model_validate({**filters, "limit": limit, "cursor": cursor})


def _page(filters: dict[str, Any], cursor: str | None) -> tuple[list[Any], str | None]:
    """One page of exactly what GET /orders lists with these filters, and the cursor of the next."""
    from . import orders

    page = orders.list_orders(_query(filters, PAGE, cursor))
    return page.orders, page.next_cursor


def _first_page(filters: dict[str, Any], limit: int) -> None:
    from . import orders

    try:
        orders.list_orders(_query(filters, limit, None))
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, {f"filters.{k}": v for k, v in exc.fields.items()}) from exc


def _abort(upload: export_files.MultipartFile | None) -> None:
    """Free the parts of an upload that will not complete (the bucket's lifecycle would, a day later)."""
    if upload is None:
        return
    try:
        upload.abort()
    except OrderDeskError:
        logger.warning("could not abort an export's upload", extra={"key": upload.key})
