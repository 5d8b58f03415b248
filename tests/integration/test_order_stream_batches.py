"""The order stream's handler (`functions/order_stream`) applies a batch of records to each view at
once (`projections.apply_many`), and when that fails, record by record with partial batch failures:
what the batch did already is not done twice, and only a record that fails on its own is handed
back to the stream. Real stream records from DynamoDB Local."""

from __future__ import annotations

from typing import Any

import pytest

from functions.order_stream import app as order_stream_app
from infra.local.event_sources import DynamoDBStreamPoller, _context, template_filter_patterns
from orderdesk.domain.statuses import OrderStatus
from orderdesk.services import projections
from orderdesk.services.ports import stores
from orderdesk.services.projections import StreamChange
from tests.integration.events_support import seed


def test_a_batch_failing_together_is_kept_record_by_record_and_only_the_failing_record_goes_back(
        table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN six new orders on the stream, and a search view that fails on any whole batch and,
    # record by record, on the search document of one order
    _, orders = seed(6, [OrderStatus.PENDING])
    bad = orders[3].id

    def fail_together(changes: Any) -> None:
        raise RuntimeError("the search view is down for batches")

    def fail_on_bad(change: StreamChange) -> None:
        if change.kind == "search_doc" and (change.new or {}).get("order_id") == bad:
            raise RuntimeError("the search view is down for one order")

    views = [(fail_on_bad, fail_together) if pair[0] is projections.search.handle else pair
             for pair in projections.PROJECTIONS]
    monkeypatch.setattr(projections, "PROJECTIONS", views)
    results: list[tuple[list[str], dict[str, Any]]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        out = order_stream_app.handler(event, context)
        results.append(([r["dynamodb"]["SequenceNumber"] for r in event["Records"]], out))
        return out

    poller = DynamoDBStreamPoller(table, handler, template_filter_patterns("OrderStreamFunction"),
                                  function_name="order-stream", max_retries=0, retry_delay=0)
    # WHEN the stream is read once
    poller.run_once()
    # THEN the one batch came back with exactly the bad order's document record failed
    (sequences, out), = results
    failed = [f["itemIdentifier"] for f in out["batchItemFailures"]]
    bad_records = [r["dynamodb"]["SequenceNumber"] for r in poller.failed_batches[0]
                   if r["dynamodb"].get("NewImage", {}).get("order_id", {}).get("S") == bad
                   and r["dynamodb"]["NewImage"]["kind"]["S"] == "search_doc"]
    assert len(bad_records) == 1 and failed == bad_records
    # AND every order counted once, though the counts and days were kept by the batch and then
    # again record by record
    assert stores().counters.status_counts()["Pending"] == 6
    first, last = min(o.placed_at for o in orders)[:10], max(o.placed_at for o in orders)[:10]
    assert sum(d.placed for d in stores().daily_stats.days(first, last)) == 6
    # AND once the view is back, the records handed back are kept and count nothing twice
    monkeypatch.undo()
    again = order_stream_app.handler({"Records": poller.failed_batches[0]}, _context("order-stream", "us-east-1", 60))
    assert again == {"batchItemFailures": []}
    assert stores().counters.status_counts()["Pending"] == 6
    assert sum(d.placed for d in stores().daily_stats.days(first, last)) == 6
