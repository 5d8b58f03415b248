"""Bounded reads (issue 17): a list whose filters no index narrows reads at most READ_BUDGET
items a request, answers with what it found, how far back it looked and a cursor that resumes
there, over 20,000 orders.

The orders are written as these lists read them and no more (`put_listed`: each order record,
keyed for by_all alone, and its search document, with BatchWriteItem): the filters here are
served by by_all and the search documents, never by an order's items, invoice, history or
postings, nor by the other indexes, and writing all of those made the seeding most of the test's
time (DynamoDB Local writes every index entry of a record)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from typing import Any

import botocore.client
import pytest

from bench import data
from orderdesk.adapters.store import mappers
from orderdesk.adapters.store import records as r
from orderdesk.adapters.store.order_lists import READ_BUDGET
from orderdesk.adapters.store.search import doc_record
from orderdesk.adapters.store.table import connection
from orderdesk.config import get_settings
from orderdesk.domain import search
from orderdesk.domain.statuses import PaymentStatus
from orderdesk.schemas import OrderQuery
from orderdesk.services import orders as order_service

ORDERS = 20_000


class ItemsRead:
    """Items each DynamoDB request read, as DynamoDB answered it (Query: ScannedCount;
    BatchGetItem: the items returned), counted from every client of this process."""

    def __init__(self) -> None:
        self.items = Counter[str]()

    def __call__(self, original: Any) -> Any:
        meter = self

        def call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            answer = original(client, operation, params)
            if client.meta.service_model.service_name == "dynamodb":
                if operation == "Query":
                    meter.items["read"] += int(answer.get("ScannedCount", 0))
                elif operation == "BatchGetItem":
                    meter.items["read"] += sum(len(v) for v in answer.get("Responses", {}).values())
                elif operation == "GetItem":
                    meter.items["read"] += int("Item" in answer)
            return answer

        return call


def put_listed(rows: list[data.Entry]) -> int:
    """Write what these lists read of each order: its record (as `create_order` stores it, less
    the keys of the indexes no filter here reads) and its search document; the orders written."""
    connection()  # binds the records to the configured table
    shards = get_settings().status_shards
    with r.Record.batch_write() as batch:
        for order, items, _invoice, _history, text in rows:
            record = mappers.order_record(order, text, shards)
            record.version = 1
            for key in ("gsi1pk", "gsi1sk", "gsi3pk", "gsi3sk", "total_band", "promo_code", "ip_address",
                        "affiliate_id"):
                setattr(record, key, None)
            batch.save(record)
            batch.save(doc_record(order, items, shards))
    return len(rows)


@pytest.fixture(scope="module")
def big(dynamodb_local, ddb_client, keypair) -> Iterator[dict[str, Any]]:
    """20,000 orders over 180 days; three of them Refunded, one near the newest end, one in the
    middle, one near the oldest (nothing else is)."""
    from tests.integration.search_support import fresh_table

    with fresh_table(ddb_client):
        rng = random.Random(17)
        seeded = data.directory(rng, clients=20)
        rows = list(data.build(rng, seeded, ORDERS))
        rows.sort(key=lambda row: (row[0].placed_at, row[0].id), reverse=True)
        refunded = [rows[50][0], rows[ORDERS // 2][0], rows[ORDERS - 30][0]]
        for row in rows:  # the demo data refunds some cancelled orders: here only these three are
            if row[0].payment_status is PaymentStatus.REFUNDED:
                row[0].payment_status = PaymentStatus.PAID
        for order in refunded:
            order.payment_status = PaymentStatus.REFUNDED
        count, _ = data.load(iter(rows), workers=4, put=put_listed)
        assert count == ORDERS
        words = {row[0].id: search.client_terms(row[0].client.name, row[0].client.email, row[0].client.company)
                 | search.domain_terms(i.domain for i in row[1]) for row in rows if row[0].id in {o.id for o in refunded}}
        yield {"refunded": [o.id for o in refunded],
               "refunded with an a-word": [o.id for o in refunded if search.matches(words[o.id], ["a"])]}


def read_all(query: dict[str, str], meter: ItemsRead) -> tuple[list[str], list[dict[str, Any]]]:
    ids: list[str] = []
    requests: list[dict[str, Any]] = []
    cursor = None
    for _ in range(200):
        meter.items.clear()
        page = order_service.list_orders(OrderQuery.model_validate(
            {**query, "limit": "25", **({"cursor": cursor} if cursor else {})}))
        requests.append({"read": meter.items["read"], "found": len(page.orders), "searched_to": page.searched_to,
                         "next": page.next_cursor})
        ids += [o.id for o in page.orders]
        cursor = page.next_cursor
        if not cursor:
            return ids, requests
    raise AssertionError("the read never ended")


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("query,matches", [
    ({"payment_status": "Refunded"}, "refunded"),  # no index: by_all, every order read to find three
    ({"q": "z"}, None),  # a one-character word: the search documents, nothing has a z word
    ({"payment_status": "Refunded", "q": "a"}, "refunded with an a-word"),
])
def test_a_filter_no_index_narrows_reads_at_most_the_budget_a_request_and_resumes_exactly(
        big, monkeypatch, query, matches):
    # GIVEN 20,000 orders and a filter that an index cannot narrow
    meter = ItemsRead()
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call",
                        meter(botocore.client.BaseClient._make_api_call))
    # WHEN the list is read request by request, following next_cursor
    ids, requests = read_all(query, meter)
    # THEN no request read more than the budget, yet every order was looked at: several requests,
    # each short page saying how far back it looked, its cursor going on from there
    assert max(r["read"] for r in requests) <= READ_BUDGET, requests
    assert len(requests) >= ORDERS // READ_BUDGET
    short = [r for r in requests[:-1] if r["found"] < 25]
    assert short and all(r["searched_to"] and r["next"] for r in short)
    assert [r["searched_to"] for r in short] == sorted((r["searched_to"] for r in short), reverse=True)
    # AND the orders found are exactly the matches, once each, newest first
    assert ids == (big[matches] if matches else [])
