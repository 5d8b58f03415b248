"""An export holds one part of its file in memory, whatever the file's size: the same run writing
a file of one part and one of six, measured with tracemalloc. S3 is moto's server in a process of
its own (in this process, moto would keep every part it receives in our heap and the measure
would be of moto); the export record is in DynamoDB Local; the pages of the list are made here
(the one thing stood in for: the paging through DynamoDB is what test_exports.py covers)."""

from __future__ import annotations

import math
import random
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest

from infra.local.seed import build_order
from orderdesk.adapters import aws
from orderdesk.config import get_settings, reset_settings
from orderdesk.domain.exports import RUNNING, Export, row_of
from orderdesk.domain.model import Client, Order, iso, utcnow
from orderdesk.domain.statuses import OrderStatus
from orderdesk.services import exports
from orderdesk.services.ports import stores

MiB = 1024 * 1024


def _listening(proc: subprocess.Popen[bytes], port: int) -> bool:
    """Whether `proc` came to listen on `port` (False: it exited, or never did within 30 s)."""
    deadline = time.monotonic() + 30
    while proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait(timeout=10)
                return False
            time.sleep(0.1)
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3_elsewhere() -> Iterator[str]:
    """moto's S3 in its own process on 127.0.0.1. Its port is picked free here and bound there, so
    another test worker may take it in between: a server that exits (its port taken) is started
    again on another."""
    for _ in range(5):
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if _listening(proc, port):
            break
    else:
        pytest.fail("moto's server did not start on a free port (5 tries)")
    endpoint = f"http://127.0.0.1:{port}"
    yield endpoint
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture()
def bucket(s3_elsewhere: str, table: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"exports-{table[-10:]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_elsewhere)
    monkeypatch.setenv("EXPORT_BUCKET", name)
    reset_settings()
    aws.reset_clients()
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=name)
    yield name
    reset_settings()
    aws.reset_clients()


def a_page_of_orders() -> list[Order]:
    client = Client(id="c1", first_name="Grace Brewster", last_name="Murray Hopper",
                    email="grace.hopper@navy.example.com", company="Eckert-Mauchly Computer Corporation", country="US")
    rng = random.Random(5)
    return [build_order(rng, client, OrderStatus.ACTIVE, "2026-03-02T10:15:00Z", None, [])[0] for _ in range(100)]


def peak_of_export(monkeypatch: pytest.MonkeyPatch, pages: int, page: list[Order]) -> tuple[int, int, int, str]:
    """(peak traced bytes, rows, file bytes, object key) of one export of `pages` pages of the list."""

    def fake_page(filters: dict[str, Any], cursor: str | None) -> tuple[list[Order], str | None]:
        n = int(cursor or 0)
        return page, (str(n + 1) if n + 1 < pages else None)

    monkeypatch.setattr(exports, "_page", fake_page)
    export = Export(id=f"mem-{pages}-{random.randrange(10**6)}", status=RUNNING, filters={}, created_at=iso(utcnow()), actor="test")
    stores().exports.create(export, utcnow() + timedelta(days=1))
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        outcome = exports.run_export(export.id, remaining_ms=lambda: 900_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert outcome["outcome"] == "DONE", outcome
    key = stores().exports.get(export.id).key
    size = boto3.client("s3", region_name="us-east-1").head_object(Bucket=get_settings().export_bucket,
                                                                   Key=key)["ContentLength"]
    return peak, outcome["rows"], size, key or ""


def test_an_export_holds_one_part_in_memory_however_large_its_file(bucket, monkeypatch, record_property):
    # GIVEN pages of the list (100 orders each) and the part size (5 MiB, S3's minimum)
    page = a_page_of_orders()
    row_bytes = sum(len(",".join(row_of(o))) + 2 for o in page) / len(page)
    part = get_settings().export_part_bytes
    assert part == 5 * MiB
    big_pages = math.ceil(6 * part / (row_bytes * len(page)))  # a file of six parts, and a little

    # WHEN a first export has loaded what the first of anything loads (S3's service model...),
    # then a file of a single small part is exported, then one of six parts
    peak_of_export(monkeypatch, 1, page)
    small_peak, small_rows, small_size, _ = peak_of_export(monkeypatch, 3, page)
    big_peak, big_rows, big_size, big_key = peak_of_export(monkeypatch, big_pages, page)
    record_property("export_memory", {"small_file_bytes": small_size, "small_peak_bytes": small_peak,
                                      "big_file_bytes": big_size, "big_peak_bytes": big_peak, "rows": big_rows})
    print(f"\nexport memory: {small_rows} rows, {small_size / MiB:.1f} MiB file: peak {small_peak / MiB:.1f} MiB; "
          f"{big_rows} rows, {big_size / MiB:.1f} MiB file: peak {big_peak / MiB:.1f} MiB")

    # THEN the big file is six parts and more, written with one part (and a page) in memory at
    # most, not the file; the small one with what one small part takes
    assert big_size > 6 * part and small_size < part
    assert big_peak < 1.5 * part, big_peak
    assert small_peak < 1 * MiB, small_peak
    # AND the parts make one whole file: the header and every row, each on its line
    body = boto3.client("s3", region_name="us-east-1").get_object(Bucket=bucket, Key=big_key)["Body"]
    lines = sum(chunk.count(b"\r\n") for chunk in iter(lambda: body.read(MiB), b""))
    assert lines == big_rows + 1
