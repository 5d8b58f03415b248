"""Exports of the orders list, through the API: POST /exports starts the export function as
Lambda would (moto's Invoke route, InvocationType Event, the template's handler run in a thread),
which pages through the list on DynamoDB Local and writes the CSV by multipart upload to moto's
S3; GET /exports/{id} reports the rows as they rise and, once DONE, a presigned URL that is
downloaded over HTTP from moto's port, as the browser does on the local stack."""

from __future__ import annotations

import csv
import io
import random
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests

from infra.local.moto_server import MotoServer
from infra.local.seed import build_order, seed_directory
from infra.local.statemachines import lambda_functions_from_template
from orderdesk.adapters import aws
from orderdesk.adapters.store import mappers
from orderdesk.adapters.store import records as r
from orderdesk.adapters.store.table import connection
from orderdesk.config import get_settings, reset_settings
from orderdesk.domain.exports import HEADINGS, RUNNING, Export
from orderdesk.domain.model import iso, utcnow
from orderdesk.domain.statuses import OrderStatus
from orderdesk.services import exports
from orderdesk.services.ports import stores

FUNCTION = "ExportOrdersFunction"


@pytest.fixture(scope="module")
def moto_exports() -> Iterator[MotoServer]:
    """moto's server for S3 and Lambda's Invoke route, serving the template's export function."""
    functions = lambda_functions_from_template()
    server = MotoServer({FUNCTION: functions[FUNCTION]})
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def bucket(moto_exports: MotoServer, table: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh export bucket; the API and the function pointed at it and at the function."""
    name = f"exports-{table[-10:]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_exports.endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", moto_exports.endpoint)
    monkeypatch.setenv("EXPORT_BUCKET", name)
    monkeypatch.setenv("EXPORT_FUNCTION_NAME", FUNCTION)
    reset_settings()
    aws.reset_clients()
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=name)
    yield name
    reset_settings()
    aws.reset_clients()


def wait_done(api: Any, export_id: str, timeout: float = 120.0) -> tuple[dict[str, Any], list[int]]:
    """Poll the export until it ends; its last view and every `rows` seen on the way."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while True:
        r = api.get(f"/exports/{export_id}", role="viewer")
        assert r.status_code == 200, r.data
        seen.append(r.data["rows"])
        if r.data["status"] != RUNNING or time.monotonic() > deadline:
            return r.data, seen
        time.sleep(0.1)  # a poll is an API call in this process: it takes the run's CPU


def download(url: str) -> list[list[str]]:
    """The file behind a presigned URL, fetched as a browser would (no credentials, plain GET)."""
    got = requests.get(url, timeout=30)
    assert got.status_code == 200, got.text[:300]
    text = got.content.decode("utf-8")
    assert text.startswith("\ufeff"), "the file starts with a BOM, so spreadsheets read it as UTF-8"
    return list(csv.reader(io.StringIO(text[1:], newline="")))


def listed(api: Any, query: str) -> list[dict[str, Any]]:
    """Every order GET /orders lists with these filters, page after page."""
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = api.get(f"/orders?limit=100&{query}" + (f"&cursor={cursor}" if cursor else ""), role="viewer").data
        out += page["orders"]
        cursor = page["next_cursor"]
        if cursor is None:
            return out


def export_and_download(api: Any, filters: dict[str, Any]) -> tuple[dict[str, Any], list[int], list[list[str]]]:
    r = api.post("/exports", {"filters": filters}, role="viewer")
    assert r.status_code == 202, r.data
    assert r.data["export"]["status"] == "RUNNING" and r.data["export"]["rows"] == 0
    view, seen = wait_done(api, r.data["export"]["id"])
    assert view["status"] == "DONE", view
    return view, seen, download(view["url"])


def test_an_export_of_no_orders_is_the_header_row_alone(api, bucket):
    # GIVEN no orders at all
    # WHEN they are exported
    view, _, rows = export_and_download(api, {})
    # THEN the export is DONE with 0 rows, and its file holds the column headings only
    assert view["rows"] == 0
    assert rows == [list(HEADINGS)]


def test_an_export_of_one_order_is_its_row_as_the_list_shows_it(api, bucket):
    # GIVEN one order whose client's name would start a spreadsheet formula
    client = api.post("/clients", {"first_name": "=HYPERLINK(\"http://x.test\")", "last_name": "Doe",
                                   "email": "jd@example.com", "company": "@acme", "country": "GB"}).data
    order = api.post("/orders", {"client_id": client["id"], "payment_method": "banktransfer", "promo_code": "spring",
                                 "items": [{"kind": "product", "description": "VPS 2GB", "amount": "15.00"}]}).data
    # WHEN the Pending orders are exported
    view, _, rows = export_and_download(api, {"status": "Pending"})
    # THEN one row, with the list's values, the formula and the @ escaped as text
    assert view["rows"] == 1 and len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["Order number"] == order["number"] and row["Order id"] == order["id"]
    assert row["Client"] == "'=HYPERLINK(\"http://x.test\") Doe"
    assert row["Company"] == "'@acme"
    assert (row["Status"], row["Total"], row["Currency"], row["Promo code"]) == ("Pending", "15.00", "USD", "SPRING")
    assert row["Placed at (UTC)"] == order["placed_at"] and row["Payment status"] == "Unpaid"
    # AND the link is presigned for 15 minutes and names the file
    query = parse_qs(urlsplit(view["url"]).query)
    assert query["X-Amz-Expires"] == ["900"]
    assert view["file_name"].startswith("orders-") and view["file_name"].endswith(".csv")
    assert view["requested_by"] and view["filters"] == {"status": "Pending"}


def test_an_export_of_a_few_thousand_orders_is_exactly_the_list_newest_first(api, bucket):
    # GIVEN 3,000 orders in every status, placed a minute apart
    seed_listed(3000, [OrderStatus.PENDING, OrderStatus.ACTIVE, OrderStatus.CANCELLED, OrderStatus.FRAUD,
                       OrderStatus.ACTIVE])
    # WHEN the Active ones are exported
    view, seen, rows = export_and_download(api, {"status": "Active"})
    # THEN the file holds exactly the orders the same filters list, in the list's order
    expected = listed(api, "status=Active")
    assert len(expected) == 1200 and view["rows"] == 1200
    assert rows[0] == list(HEADINGS)
    assert [r[0] for r in rows[1:]] == [o["number"] for o in expected]
    assert [r[HEADINGS.index("Total")] for r in rows[1:]] == [o["total"] for o in expected]
    # AND the rows rose page by page while it ran
    assert len({n for n in seen if 0 < n < 1200}) >= 2, seen
    assert seen == sorted(seen)


def test_an_export_whose_filter_no_index_narrows_follows_the_lists_cut_short_pages(api, bucket):
    # GIVEN 3,000 orders, more than one request of the list may read, three of them Refunded (the
    # newest, one in the middle, the oldest) and nothing else: a filter only by_all serves
    seed_listed(3000, [OrderStatus.PENDING, OrderStatus.ACTIVE])
    records = sorted((rec for rec in r.Record.scan() if isinstance(rec, r.OrderRecord)),
                     key=lambda rec: (rec.placed_at, rec.id), reverse=True)
    for rec in (records[0], records[1500], records[-1]):
        rec.update(actions=[r.OrderRecord.payment_status.set("Refunded")], add_version_condition=False)
    pages = [api.get("/orders?limit=100&payment_status=Refunded", role="viewer").data]
    while pages[-1]["next_cursor"]:
        cursor = pages[-1]["next_cursor"]
        pages.append(api.get(f"/orders?limit=100&payment_status=Refunded&cursor={cursor}", role="viewer").data)
    assert any(p["searched_to"] and p["next_cursor"] for p in pages), "the list cut a page short"
    # WHEN they are exported
    view, _, rows = export_and_download(api, {"payment_status": "Refunded"})
    # THEN the file holds exactly the three the list gives page after page, newest first
    expected = [o["number"] for p in pages for o in p["orders"]]
    assert len(expected) == 3 and view["rows"] == 3
    assert [row[0] for row in rows[1:]] == expected == [records[i].number for i in (0, 1500, -1)]


def test_an_export_with_a_filter_it_cannot_take_is_a_400_naming_it(api, bucket):
    for filters, field in (({"status": "Nope"}, "filters.status"), ({"placed_from": "2026-02-31"}, "filters.placed_from"),
                           ({"limit": 5}, "filters.limit"), ({"min_total": 5}, "filters.min_total")):
        # WHEN an export is asked for with it
        r = api.post("/exports", {"filters": filters}, role="viewer")
        # THEN 400 naming the field, and no export was started
        assert r.status_code == 400 and field in r.data["error"]["fields"], (filters, r.data)
    # AND a body without filters, or no body at all (what the fuzzer found accepted), is a 400
    # naming `filters`, not an export of every order
    for raw in (b"{}", b""):
        r = api.post("/exports", raw, role="viewer")
        assert r.status_code == 400 and "filters" in r.data["error"]["fields"], (raw, r.data)


def test_a_second_delivery_of_a_finished_export_changes_nothing(api, bucket):
    # GIVEN a finished export of one order
    place_one(api)
    view, _, rows = export_and_download(api, {})
    # WHEN Lambda delivers its start again (async invocations may come twice)
    again = exports.run_export(view["id"], remaining_ms=lambda: 900_000)
    # THEN nothing is done: same rows, same file
    assert again["outcome"] == "nothing to do"
    after = api.get(f"/exports/{view['id']}").data
    assert (after["status"], after["rows"]) == ("DONE", 1) and download(after["url"]) == rows


def test_a_run_that_lost_its_claim_stops_and_the_other_run_finishes(api, bucket):
    # GIVEN an export claimed by one run, then by a second delivery of its start
    place_one(api)
    export = Export(id="e-claimed", status=RUNNING, filters={}, created_at=iso(utcnow()), actor="test")
    store = stores().exports
    store.create(export, utcnow() + timedelta(days=7))
    assert store.claim(export.id, "run-a", iso(utcnow())) is not None
    # WHEN the second delivery runs it
    outcome = exports.run_export(export.id, remaining_ms=lambda: 900_000)
    # THEN the first run may no longer record anything, and the export is the second's
    assert outcome["outcome"] == "DONE"
    assert store.progress(export.id, "run-a", 5, iso(utcnow())) is False
    assert store.finish(export.id, "run-a", 5, "exports/x.csv", iso(utcnow())) is False
    assert api.get(f"/exports/{export.id}").data["rows"] == 1


def test_an_export_whose_run_died_reads_failed_after_ten_minutes_without_progress(api, bucket):
    # GIVEN an export that made no progress for 11 minutes (its function died; retries spent)
    then = iso(utcnow() - timedelta(minutes=11))
    stores().exports.create(Export(id="e-died", status=RUNNING, filters={}, created_at=then, actor="test",
                                   updated_at=then), utcnow() + timedelta(days=7))
    # WHEN it is read
    view = api.get("/exports/e-died", role="viewer").data
    # THEN it is FAILED, saying to start it again, and a late run finds nothing to do
    assert view["status"] == "FAILED" and "start it again" in view["error"] and view["url"] is None
    assert exports.run_export("e-died", remaining_ms=lambda: 900_000)["outcome"] == "nothing to do"


def test_an_export_s3_refuses_ends_failed_saying_why(api, bucket, monkeypatch):
    # GIVEN the function pointed at a bucket that does not exist
    place_one(api)
    monkeypatch.setenv("EXPORT_BUCKET", "no-such-bucket-here")
    reset_settings()
    # WHEN an export runs
    r = api.post("/exports", {"filters": {}}, role="viewer")
    view, _ = wait_done(api, r.data["export"]["id"])
    # THEN it is FAILED with S3's reason, and no URL
    assert view["status"] == "FAILED" and "NoSuchBucket" in view["error"] and view["url"] is None


def test_exports_not_configured_are_a_502_and_nothing_is_recorded(api, table, monkeypatch):
    monkeypatch.delenv("EXPORT_BUCKET", raising=False)
    monkeypatch.delenv("EXPORT_FUNCTION_NAME", raising=False)
    reset_settings()
    r = api.post("/exports", {"filters": {}}, role="viewer")
    assert r.status_code == 502 and "not configured" in r.data["error"]["message"]


def test_an_unknown_export_is_404(api, bucket):
    assert api.get("/exports/nope", role="viewer").status_code == 404


def seed_listed(count: int, statuses: list[OrderStatus]) -> None:
    """`count` orders as the list reads them: their order records alone, by BatchWriteItem. An
    export reads nothing else (it pages through the list), and the items, invoices and history
    `events_support.seed` adds would be five records more an order: most of this test's time."""
    connection()
    rng = random.Random(11)
    directory = seed_directory(stores(), rng, 5)
    now, shards = utcnow(), get_settings().status_shards
    with r.Record.batch_write() as batch:
        for n in range(count):
            client = directory.clients[n % len(directory.clients)]
            order, _, _ = build_order(rng, client, statuses[n % len(statuses)], iso(now - timedelta(minutes=n + 1)),
                                      None, [])
            record = mappers.order_record(order, client.name.lower(), shards)
            record.version = 1
            batch.save(record)


def place_one(api: Any) -> dict[str, Any]:
    client = api.post("/clients", {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
                                   "country": "GB"}).data
    return api.post("/orders", {"client_id": client["id"], "payment_method": "banktransfer",
                                "items": [{"kind": "product", "description": f"VPS {random.randint(1, 9)}GB",
                                           "amount": "15.00"}]}).data
