"""The search index behind `q` and the indexes of the other filters, against DynamoDB Local with
the table's stream read by the real consumer (`order_stream`): what is written with an order,
what follows from the stream, re-indexing a changed client or domain, deletes, redelivered
stream records, which index serves each filter, and every page of each."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from orderdesk.adapters.store import keys, order_lists
from orderdesk.config import reset_settings
from orderdesk.domain import search
from orderdesk.domain.model import AffiliateRef
from orderdesk.domain.statuses import OrderStatus, PaymentStatus
from orderdesk.services import actions
from orderdesk.services import search as search_service
from orderdesk.services.ports import stores
from orderdesk.services.projections import StreamChange, apply
from orderdesk.services.projections import search as search_projection
from tests.conftest import OrderStream
from tests.integration.search_support import World, all_pages, fresh_table, put_client, rewrite_client


def q_ids(q: str, **more: str) -> list[str]:
    return all_pages({"q": q, **more}, limit=25)[0]


def index_records(ddb_client: Any, table: str, order_id: str) -> dict[str, list[str]]:
    """The postings and search document of one order, read straight from the table."""
    out: dict[str, list[str]] = {"postings": [], "docs": []}
    for page in ddb_client.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            pk, sk = item["pk"]["S"], item["sk"]["S"]
            if sk.endswith(f"#{order_id}") and pk.startswith("QW#"):
                out["postings"].append(pk.removeprefix("QW#"))
            if sk.endswith(f"#{order_id}") and pk.startswith("QDOC#"):
                out["docs"].append(sk)
    return out


@pytest.fixture()
def world(table: str) -> World:
    return World()


def test_an_order_is_written_with_its_search_document_and_found_once_the_stream_is_read(
        table, ddb_client, order_stream, world):
    # GIVEN Ada Lovelace <ada@example.com> of Analytical Engines with an order for shop.example.com
    ada = put_client("Ada", "Lovelace", "ada@example.com", "Analytical Engines")
    order = world.add_order(ada, placed_at="2026-01-02T10:00:00Z", domains=["shop.example.com"])
    # THEN its search document was written by the create transaction itself
    assert len(index_records(ddb_client, table, order.id)["docs"]) == 1
    # AND before the stream is read no posting exists, so q does not find it yet (the stated lag)
    assert q_ids("shop.example") == []
    # WHEN the stream is read once
    order_stream.settle()
    # THEN every word the issue names finds it, and inner parts of words do not
    for q in ("ada", "lovelace", "ada@exam", "example.com", "shop.example", "ANALYT", "ada lovelace"):
        assert q_ids(q) == [order.id], q
    for q in ("velace", "ample.com", "com", "ada babbage"):
        assert q_ids(q) == [], q
    # AND it has a posting for each of its words (the local part is found through the address)
    assert sorted(index_records(ddb_client, table, order.id)["postings"]) == [
        "ada", "ada@example.com", "analytical", "engines", "example.com", "lovelace", "shop.example.com"]


def test_a_client_whose_email_and_name_change_is_found_by_the_new_ones_only(table, order_stream, world):
    # GIVEN a client with three orders, and another client
    ada = put_client("Ada", "Lovelace", "ada@example.com", None)
    mine = [world.add_order(ada, placed_at=f"2026-01-0{d}T10:00:00Z") for d in (1, 2, 3)]
    other = world.add_order(put_client("Alan", "Turing", "alan@example.com", None), placed_at="2026-01-04T00:00:00Z")
    order_stream.settle()
    # WHEN the client's email, last name and company change and the index is told
    ada.email, ada.last_name, ada.company = "countess@analytical.org", "King", "Engines Ltd"
    rewrite_client(ada)
    changed = search_service.reindex_client(ada.id)
    order_stream.settle()
    # THEN every order of the client changed, and is found by the new words, not by the old
    assert changed == 3
    newest_first = [o.id for o in reversed(mine)]
    for q in ("countess", "analytical.org", "king", "engines", "ada king"):
        assert q_ids(q) == newest_first, q
    for q in ("lovelace", "ada@example"):
        assert q_ids(q) == [], q
    assert q_ids("example.com") == [other.id]
    # AND telling the index again changes nothing (the route may retry)
    assert search_service.reindex_client(ada.id) == 0


def test_a_client_edited_through_the_api_is_found_by_its_new_words_once_the_stream_is_read(
        table, ddb_client, api, order_stream, world):
    # GIVEN a client with two orders, indexed
    ada = put_client("Ada", "Lovelace", "ada@example.com", "Analytical Engines")
    mine = [world.add_order(ada, placed_at=f"2026-02-0{d}T10:00:00Z") for d in (1, 2)]
    order_stream.settle()
    # WHEN the client's email and company are edited (PUT /clients/{id}: nothing else is told),
    # and the stream read
    r = api.put(f"/clients/{ada.id}", {"email": "countess@newmail.org", "company": None}, role="support")
    assert r.status_code == 200, r.data
    handled = order_stream.settle()
    # THEN its orders are found by the new words, not the old, after the stream's two steps (the
    # client record, then the documents' records)
    assert handled >= 3
    for q in ("countess", "newmail.org", "lovelace"):
        assert q_ids(q) == [o.id for o in reversed(mine)], q
    for q in ("ada@example", "analytical", "engines"):
        assert q_ids(q) == [], q
    # AND a change of something else of the client (its credit) changes no document
    before = {o.id: index_records(ddb_client, table, o.id)["postings"] for o in mine}
    assert search_projection.client_changed(
        {"kind": "client", "id": ada.id, "first_name": "Ada", "last_name": "Lovelace",
         "email": "countess@newmail.org", "company": None, "credit_balance": 0},
        {"kind": "client", "id": ada.id, "first_name": "Ada", "last_name": "Lovelace",
         "email": "countess@newmail.org", "company": None, "credit_balance": 5}) == 0
    assert {o.id: index_records(ddb_client, table, o.id)["postings"] for o in mine} == before


def test_a_client_changed_before_the_stream_read_its_new_order_is_indexed_as_the_client_is_now(
        table, order_stream, world):
    # GIVEN an order placed, then its client's email changed before the stream was read, and the
    # reindex missed the order (as when by_client did not show it yet)
    ada = put_client("Ada", "Lovelace", "ada@example.com", None)
    order = world.add_order(ada, placed_at="2026-01-02T10:00:00Z")
    ada.email = "ada@newmail.org"
    rewrite_client(ada)
    # WHEN the stream is read
    order_stream.settle()
    # THEN the order is found by the client's email as it is now, not as it was at ordering
    assert q_ids("newmail.org") == [order.id]
    assert q_ids("example.com") == []


def test_an_items_new_domain_is_found_and_its_old_one_no_longer(table, order_stream, world):
    # GIVEN an order with a domain, indexed
    order = world.add_order(put_client("Grace", "Hopper", "grace@navy.mil", None), placed_at="2026-01-02T00:00:00Z",
                            domains=["cobol.example.com"])
    order_stream.settle()
    assert q_ids("cobol") == [order.id]
    # WHEN the domain item's domain changes (any write of the item: the stream follows it)
    item = next(i for i in order.items if i.domain)
    stores().writes.update_item(order.id, item.id, domain="flowmatic.example.org")
    order_stream.settle()
    # THEN the new domain and its parent find the order, the old domain does not
    assert q_ids("flowmatic") == [order.id] == q_ids("example.org")
    assert q_ids("cobol") == [] == q_ids("example.com")


def test_a_deleted_order_leaves_no_search_document_and_no_posting(table, ddb_client, order_stream, world):
    # GIVEN a cancelled order, indexed
    order = world.add_order(put_client("Dennis", "Ritchie", "dmr@bell-labs.com", "Bell Labs"),
                            placed_at="2026-01-02T00:00:00Z", status=OrderStatus.CANCELLED, domains=["unix.example"])
    order_stream.settle()
    assert index_records(ddb_client, table, order.id)["postings"]
    # WHEN it is deleted and the stream read
    actions.delete_order(order.id, "test")
    order_stream.settle()
    # THEN nothing of it is left in the index
    assert index_records(ddb_client, table, order.id) == {"postings": [], "docs": []}
    assert q_ids("ritchie") == []


def test_stream_records_delivered_twice_or_replayed_after_newer_ones_end_where_the_document_is(
        table, ddb_client, world):
    # GIVEN a document's three versions: created, email changed, email changed again
    order = world.add_order(put_client("Ada", "Lovelace", "ada@one.example", None), placed_at="2026-01-02T00:00:00Z")
    image = {"pk": "QDOC#0", "sk": keys.sort_key(order.placed_at, order.id), "kind": "search_doc",
             "order_id": order.id, "placed_at": order.placed_at, "client_id": order.client.id, "domain_terms": ""}
    v1, v2, v3 = ({**image, "client_terms": search.join_terms(search.client_terms("Ada Lovelace", email, None))}
                  for email in ("ada@one.example", "ada@two.example", "ada@three.example"))
    records = [StreamChange("INSERT", {}, None, v1), StreamChange("MODIFY", {}, v1, v2),
               StreamChange("MODIFY", {}, v2, v3)]
    # WHEN they are delivered, then again from the first (a batch retried from its first record),
    # then the last once more
    for change in records + records + records[-1:]:
        apply(change)
    # THEN the postings are exactly the last version's terms
    posted = sorted(index_records(ddb_client, table, order.id)["postings"])
    assert posted == ["ada", "ada@three.example", "lovelace", "three.example"]


def test_orders_from_before_the_index_get_their_documents_from_the_backfill(table, ddb_client, order_stream, world):
    # GIVEN an order whose search document is missing (written before the index existed)
    order = world.add_order(put_client("Ken", "Thompson", "ken@bell-labs.com", None), placed_at="2026-01-02T00:00:00Z")
    pk, sk = keys.search_doc_partition(keys.shard_of(order.id, 8)), keys.sort_key(order.placed_at, order.id)
    ddb_client.delete_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}})
    order_stream.settle()
    assert q_ids("thompson") == []
    # WHEN the backfill runs (twice: it is idempotent) and the stream is read
    assert search_service.backfill() == 1
    assert search_service.backfill() == 0
    order_stream.settle()
    # THEN the order is found
    assert q_ids("thompson") == [order.id]


def test_the_projection_is_registered_and_ignores_other_records() -> None:
    # GIVEN / WHEN / THEN the search view is one of the stream's projections, and a record of an
    # invoice or a history entry asks nothing of it
    from orderdesk.services import projections

    assert (search_projection.handle, search_projection.handle_many) in projections.PROJECTIONS
    search_projection.handle(StreamChange("INSERT", {}, None, {"kind": "invoice", "sk": "INVOICE"}))
    search_projection.handle_many([StreamChange("INSERT", {}, None, {"kind": "invoice", "sk": "INVOICE"})])


# -- which index serves each filter, and every page of each ----------------------------------------

@pytest.fixture(scope="module")
def listed_table(dynamodb_local, ddb_client, keypair) -> Iterator[tuple[str, World]]:
    """Sixty orders over February, every filterable attribute varied, indexed; shared by the
    read-only tests below."""
    with fresh_table(ddb_client) as name:
        world = World()
        clients = [put_client(f, last, f"{f.lower()}.{last.lower()}@{d}", c) for f, last, d, c in [
            ("Ada", "Lovelace", "example.com", "Analytical Engines"), ("Adam", "Love", "mail.example.com", None),
            ("Alan", "Turing", "bletchley.co.uk", "Hut Eight"), ("Zoë", "Straße", "example.de", None)]]
        methods, promos = ["stripe", "paypal", "banktransfer"], [None, "WELCOME10", "SPRING5"]
        ips = ["203.0.113.1", "203.0.113.2", None]
        aff = AffiliateRef(id="aff1", name="Partner")
        for n in range(60):
            world.add_order(clients[n % 4], placed_at=f"2026-02-{1 + n % 28:02d}T{n % 24:02d}:{n:02d}:00Z",
                            status=list(OrderStatus)[n % 4], payment=[PaymentStatus.PAID, PaymentStatus.UNPAID][n % 2],
                            promo=promos[n % 3], ip=ips[n % 3], method=methods[n % 3],
                            affiliate=aff if n % 5 == 0 else None,
                            domains=[f"shop{n % 7}.example.com"] if n % 2 else [],
                            amounts=[["0.50", "9.99", "20.00", "120.00", "2500.00"][n % 5]])
        OrderStream(name).settle()
        yield name, world


@pytest.fixture()
def listed(listed_table) -> World:
    name, world = listed_table
    os.environ["TABLE_NAME"] = name
    reset_settings()
    return world


@pytest.mark.parametrize("query,index,kind", [
    ({}, keys.BY_ALL, "order"),
    ({"status": "Pending"}, keys.BY_STATUS, "order"),
    ({"client_id": "*"}, keys.BY_CLIENT, "order"),
    ({"client_id": "*", "q": "shop"}, keys.BY_CLIENT, "order"),
    ({"q": "love"}, None, "posting"),
    ({"q": "ada love", "status": "Active"}, None, "posting"),
    ({"q": "shop1.example.com"}, None, "posting"),
    ({"q": "a"}, None, "doc"),
    ({"q": "s", "payment_method": "paypal"}, None, "doc"),
    ({"ip_address": "203.0.113.2", "status": "Fraud"}, keys.BY_IP, "keys"),
    ({"affiliate_id": "aff1"}, keys.BY_AFFILIATE, "keys"),
    ({"promo_code": "welcome10", "payment_status": "Paid"}, keys.BY_PROMO, "keys"),
    ({"min_total": "10.00"}, keys.BY_TOTAL, "keys"),
    ({"max_total": "9.99", "status": "Cancelled"}, keys.BY_TOTAL, "keys"),
    ({"min_total": "20.00", "max_total": "20.00"}, keys.BY_TOTAL, "keys"),
    ({"payment_method": "banktransfer"}, keys.BY_METHOD, "keys"),
    ({"payment_status": "Unpaid", "placed_from": "2026-02-03", "placed_to": "2026-02-20"}, keys.BY_ALL, "order"),
])
@pytest.mark.parametrize("limit", [1, 4])
def test_every_index_pages_through_every_match_once_newest_first(listed, query, index, kind, limit):
    # GIVEN the filters (a client's id filled in)
    if query.get("client_id") == "*":
        query = {**query, "client_id": list(listed.clients)[1]}  # Adam Love: orders with domains
    from orderdesk.schemas import OrderQuery
    from orderdesk.services.orders import filter_of

    f = filter_of(OrderQuery.model_validate(query))
    # THEN the index meant for them serves them
    source = order_lists.plan(f, search.query_words(f.q), order_lists.Budget(order_lists.READ_BUDGET), 8)
    assert source is not None and (source.index, source.kind) == (index, kind)
    # WHEN every page is read
    ids, pages = all_pages(query, limit)
    # THEN each matching order comes once, newest first, no page over the limit, and full pages
    # but the last (the read budget is far away)
    expected = listed.expect(query)
    assert expected, "the data should match"
    assert ids == expected
    assert all(p["size"] <= limit for p in pages) and all(p["size"] == limit for p in pages[:-1])
    assert all(p["searched_to"] is None for p in pages)


def test_a_number_is_one_lookup_and_other_filters_still_apply(listed):
    order = next(iter(listed.orders.values()))
    assert all_pages({"number": order.number}, 5)[0] == [order.id]
    assert all_pages({"number": order.number, "q": "zzz"}, 5)[0] == []
    word = sorted(listed.terms(order))[0]
    assert all_pages({"number": order.number, "q": word}, 5)[0] == [order.id]


def test_a_query_word_that_starts_no_term_ends_the_read_at_the_term_lists(listed):
    # GIVEN a word no order has WHEN the list is planned THEN no index is read at all
    f = order_lists.OrderFilter(q="zzqx")
    assert order_lists.plan(f, ["zzqx"], order_lists.Budget(order_lists.READ_BUDGET), 8) is None
    assert all_pages({"q": "zzqx"}, 25)[0] == []


def test_openapi_says_what_q_matches(api):
    # WHEN the API's document is read
    doc = api.get("/openapi.json").data
    params = {p["name"]: p for p in doc["paths"]["/orders"]["get"]["parameters"]}
    # THEN q's description names every source of words and the rule
    text = params["q"]["description"]
    for phrase in ("start of a word", "name and company", "email address whole", "local part", "parent domains",
                   "current ones", "ada@exam", "shop.example"):
        assert phrase in text, phrase
    searched_to = doc["components"]["schemas"]["OrderListOut"]["properties"]["searched_to"]
    assert "next_cursor" in json.dumps(searched_to)


def test_a_total_range_whose_minimum_is_above_its_maximum_is_empty_not_an_error(listed):
    # GIVEN min_total above max_total (found by the filter properties: no band spans it, a 500)
    # WHEN / THEN the list is simply empty
    assert all_pages({"min_total": "100.00", "max_total": "1.00"}, 25) == ([], [
        {"size": 0, "next": None, "searched_to": None}])
