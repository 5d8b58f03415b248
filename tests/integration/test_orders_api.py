"""GET /orders: every filter, paging completeness, cursors; POST /orders and friends: validation."""

from __future__ import annotations

import json
import os
import random
import uuid
from decimal import Decimal

import pytest
from chalice.test import Client

from infra.local import seed
from infra.local.table import create_table
from orderdesk.api.auth import issue_token
from orderdesk.config import reset_settings
from orderdesk.domain.statuses import OrderStatus
from orderdesk.services.ports import stores
from tests.conftest import OrderStream


@pytest.fixture(scope="module")
def seeded(dynamodb_local, ddb_client, keypair, chalice_app):
    """A table with 120 orders over 180 days, shared by the read-only tests of this module."""
    name = f"orderdesk-{uuid.uuid4().hex[:10]}"
    create_table(ddb_client, name)
    previous = os.environ.get("TABLE_NAME")
    os.environ["TABLE_NAME"] = name
    reset_settings()
    repo = stores()
    rng = random.Random(7)
    directory = seed.seed_directory(repo, rng, clients=25)
    orders = seed.seed_orders(repo, rng, directory, 120)
    OrderStream(name).settle()  # the status counters follow from the table's stream
    yield {"orders": orders, "directory": directory, "table": name}
    ddb_client.delete_table(TableName=name)
    if previous:
        os.environ["TABLE_NAME"] = previous
    reset_settings()


@pytest.fixture()
def call(seeded, chalice_app, keypair):
    os.environ["TABLE_NAME"] = seeded["table"]
    reset_settings()
    tok = issue_token(keypair["private"], "viewer")
    with Client(chalice_app) as c:
        def get(path: str):
            r = c.http.get(path, headers={"Authorization": f"Bearer {tok}"})
            return r.status_code, json.loads(r.body) if r.body else None
        yield get


def all_pages(call, query: str, limit: int = 17) -> list[dict]:
    out: list[dict] = []
    cursor = None
    for _ in range(1000):
        sep = "&" if query else ""
        path = f"/orders?{query}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        status, body = call(path)
        assert status == 200, body
        out.extend(body["orders"])
        cursor = body["next_cursor"]
        if not cursor:
            return out
    raise AssertionError("paging never ended")


def newest_first(orders: list[dict]) -> list[str]:
    return [o["id"] for o in sorted(orders, key=lambda o: (o["placed_at"], o["id"]), reverse=True)]


def expect(seeded, pred) -> list[str]:
    chosen = [o for o in seeded["orders"] if pred(o)]
    return [o.id for o in sorted(chosen, key=lambda o: (o.placed_at, o.id), reverse=True)]


def test_every_order_exactly_once_newest_first(seeded, call):
    # WHEN all orders are read page by page
    got = all_pages(call, "")
    ids = [o["id"] for o in got]
    # THEN each order appears exactly once, newest first
    assert len(ids) == len(set(ids)) == 120
    assert ids == expect(seeded, lambda o: True)


@pytest.mark.parametrize("status", [s.value for s in OrderStatus])
def test_status_filter_pages_through_every_shard(seeded, call, status):
    got = all_pages(call, f"status={status}", limit=9)
    assert [o["id"] for o in got] == expect(seeded, lambda o: o.status.value == status)
    assert got, "the seed has every status"


def test_client_filter(seeded, call):
    client = seeded["directory"].clients[3]
    got = all_pages(call, f"client_id={client.id}", limit=3)
    assert [o["id"] for o in got] == expect(seeded, lambda o: o.client.id == client.id)
    assert got


def test_client_and_status_filters_combine(seeded, call):
    client = seeded["directory"].clients[5]
    got = all_pages(call, f"client_id={client.id}&status=Active", limit=2)
    assert [o["id"] for o in got] == expect(seeded, lambda o: o.client.id == client.id and o.status.value == "Active")


@pytest.mark.parametrize("field,value_of", [
    ("payment_status", lambda o: o.payment_status.value),
    ("payment_method", lambda o: o.payment_method),
    ("promo_code", lambda o: o.promo_code),
    ("ip_address", lambda o: o.ip_address),
    ("affiliate_id", lambda o: o.affiliate.id if o.affiliate else None),
])
def test_equality_filters(seeded, call, field, value_of):
    values = [value_of(o) for o in seeded["orders"] if value_of(o)]
    value = max(set(values), key=values.count)
    got = all_pages(call, f"{field}={value}", limit=20)
    assert [o["id"] for o in got] == expect(seeded, lambda o: value_of(o) == value)
    assert got


def test_number_filter(seeded, call):
    order = seeded["orders"][17]
    status, body = call(f"/orders?number={order.number}")
    assert status == 200
    assert [o["id"] for o in body["orders"]] == [order.id]
    status, body = call(f"/orders?number={order.number}&status=" +
                        ("Pending" if order.status.value != "Pending" else "Active"))
    assert body["orders"] == []


def test_total_range(seeded, call):
    got = all_pages(call, "min_total=20.00&max_total=50.00", limit=25)
    assert [o["id"] for o in got] == expect(seeded, lambda o: Decimal("20") <= o.total <= Decimal("50"))
    assert all(Decimal("20") <= Decimal(o["total"]) <= Decimal("50") for o in got)


def test_date_range_inclusive_days(seeded, call):
    days = sorted({o.placed_at[:10] for o in seeded["orders"]})
    lo, hi = days[len(days) // 4], days[len(days) // 2]
    got = all_pages(call, f"placed_from={lo}&placed_to={hi}&status=Pending", limit=7)
    assert [o["id"] for o in got] == expect(
        seeded, lambda o: lo <= o.placed_at[:10] <= hi and o.status.value == "Pending")
    assert got


def test_timestamp_bounds(seeded, call):
    order = seeded["orders"][40]
    got = all_pages(call, f"placed_from={order.placed_at}&placed_to={order.placed_at}")
    assert order.id in [o["id"] for o in got]


def test_the_first_and_last_days_of_the_calendar_are_bounds_like_any_other(seeded, call):
    # GIVEN the widest day range there is WHEN it filters THEN every order is in it (not a 500)
    got = all_pages(call, "placed_from=0001-01-01&placed_to=9999-12-31", limit=100)
    assert sorted(o["id"] for o in got) == sorted(o.id for o in seeded["orders"])


def test_q_matches_name_email_company_or_domain(seeded, call):
    with_domain = next(o for o in seeded["orders"] if any(i.domain for i in o.items))
    domain = next(i.domain for i in with_domain.items if i.domain)
    got = all_pages(call, f"q={domain.upper()}")
    assert with_domain.id in [o["id"] for o in got]
    client = seeded["directory"].clients[2]
    got = all_pages(call, f"q={client.last_name.lower()}", limit=50)
    assert set(expect(seeded, lambda o: o.client.id == client.id)) <= {o["id"] for o in got}


def test_status_counts_match_the_data(seeded, call):
    status, body = call("/order-statuses")
    assert status == 200
    want = {s.value: sum(1 for o in seeded["orders"] if o.status is s) for s in OrderStatus}
    # the demo data needs no attention: Active orders' accounts are live, the others have none
    assert {x["status"]: x["count"] for x in body} == {**want, "Attention": 0}


@pytest.mark.parametrize("cursor", ["garbage", "eyJwIjoiMjAyNiJ9.AAAA", "a.b.c", "x" * 50, "eyJwIjoiMjAyNiJ9.%C3%A9"])
def test_cursor_not_issued_by_the_api_is_400(call, cursor):
    status, body = call(f"/orders?cursor={cursor}")
    assert status == 400
    assert "cursor" in body["error"]["fields"]


def test_cursor_from_other_filters_is_400(call):
    status, body = call("/orders?status=Pending&limit=2")
    status, body = call(f"/orders?status=Active&limit=2&cursor={body['next_cursor']}")
    assert status == 400 and "cursor" in body["error"]["fields"]


def test_tampered_cursor_is_400(call):
    _, body = call("/orders?limit=2")
    payload, sig = body["next_cursor"].split(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB")
    status, body = call(f"/orders?limit=2&cursor={forged}.{sig}")
    assert status == 400


@pytest.mark.parametrize("query,field", [
    ("status=Done", "status"), ("limit=0", "limit"), ("limit=101", "limit"), ("limit=ten", "limit"),
    ("placed_from=2026-13-01", "placed_from"), ("placed_to=yesterday", "placed_to"),
    ("placed_from=9999-12-31T23:59:59-23:59", "placed_from"), ("placed_to=0001-01-01T00:00:00%2B01:00", "placed_to"),
    ("min_total=1e3", "min_total"), ("max_total=-5", "max_total"), ("ip_address=999.1.1.1", "ip_address"),
    ("payment_status=Maybe", "payment_status"), ("number=abc", "number"), ("colour=red", "colour"),
])
def test_bad_filters_name_the_field(call, query, field):
    status, body = call(f"/orders?{query}")
    assert status == 400, body
    assert field in body["error"]["fields"], body


# -- writes ---------------------------------------------------------------------------------------


def make_client(api, **over):
    body = {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com", "country": "US", **over}
    r = api.post("/clients", body)
    assert r.status_code == 201, r.data
    return r.data


ITEM = {"kind": "product", "description": "VPS", "amount": "15.00"}


@pytest.mark.parametrize("body,field", [
    ({"items": [ITEM], "payment_method": "stripe"}, "client_id"),
    ({"client_id": "c", "items": [], "payment_method": "stripe"}, "items"),
    ({"client_id": "c", "items": [{**ITEM, "amount": 15.0}], "payment_method": "stripe"}, "items.0.amount"),
    ({"client_id": "c", "items": [{**ITEM, "amount": "15.001"}], "payment_method": "stripe"}, "items.0.amount"),
    ({"client_id": "c", "items": [{**ITEM, "kind": "boat"}], "payment_method": "stripe"}, "items.0.kind"),
    ({"client_id": "c", "items": [{**ITEM, "kind": "domain"}], "payment_method": "stripe"}, "items.0.domain"),
    ({"client_id": "c", "items": [ITEM], "payment_method": "stripe", "discount": 5}, "discount"),
    ({"client_id": "c", "items": [ITEM], "payment_method": "stripe", "ip_address": "1.2.3"}, "ip_address"),
    ({"client_id": "c", "items": [ITEM], "payment_method": "stripe", "currency": "usd"}, "currency"),
    ({"client_id": "c", "items": [ITEM], "payment_method": "stripe", "skip_fraud_check": "yes"}, "skip_fraud_check"),
    ({"client_id": "c", "items": [ITEM], "payment_method": "stripe", "surprise": 1}, "surprise"),
])
def test_bad_order_names_the_field(api, body, field):
    r = api.post("/orders", body)
    assert r.status_code == 400, r.data
    assert field in r.data["error"]["fields"], r.data
    assert api.get("/orders").data["orders"] == []  # nothing half-written


def test_every_bad_field_is_named_at_once(api):
    r = api.post("/clients", {"first_name": "", "last_name": "X", "email": "not-an-email", "country": "XX"})
    assert r.status_code == 400
    assert {"first_name", "email", "country"} <= set(r.data["error"]["fields"])


def test_unknown_client_is_a_400_naming_client_id(api):
    r = api.post("/orders", {"client_id": "nobody", "items": [ITEM], "payment_method": "stripe"})
    assert r.status_code == 400 and "client_id" in r.data["error"]["fields"]


def test_discount_above_items_is_refused(api):
    c = make_client(api)
    r = api.post("/orders", {"client_id": c["id"], "items": [ITEM], "payment_method": "x", "discount": "15.01"})
    assert r.status_code == 400 and "discount" in r.data["error"]["fields"]


def test_not_json_and_non_object_bodies(api):
    for raw in [b"{", b"[1,2]", b'"x"', b"null"]:
        r = api.request("POST", "/clients", raw)
        assert r.status_code == 400, (raw, r.data)


def test_deeply_nested_json_is_a_quick_400(api):
    raw = ("[" * 100_000 + "]" * 100_000).encode()
    r = api.request("POST", "/clients", raw)
    assert r.status_code == 400


def test_body_over_the_limit_is_413(api):
    r = api.request("POST", "/clients", b'{"first_name": "' + b"a" * 300_000 + b'"}')
    assert r.status_code == 413
    assert r.data["error"]["code"] == "payload_too_large"


def test_money_adds_up_on_the_invoice(api):
    c = make_client(api)
    items = [{**ITEM, "amount": a} for a in ["0.10", "0.20", "19.99", "100.00"]]
    r = api.post("/orders", {"client_id": c["id"], "items": items, "payment_method": "x", "discount": "0.29"})
    assert r.status_code == 201, r.data
    inv = api.get(f"/invoices/{r.data['invoice_id']}").data
    assert inv["subtotal"] == "120.29" and inv["discount"] == "0.29" and inv["total"] == "120.00"
    assert inv["balance"] == "120.00" and inv["status"] == "Unpaid"
    assert [line["amount"] for line in inv["lines"]] == ["0.10", "0.20", "19.99", "100.00"]


def test_partial_then_full_payment(api):
    c = make_client(api)
    order = api.post("/orders", {"client_id": c["id"], "items": [ITEM], "payment_method": "x"}).data
    inv_path = f"/invoices/{order['invoice_id']}/payments"
    r = api.post(inv_path, {"amount": "5.00", "gateway": "manual", "transaction_id": "a"}, role="billing")
    assert r.status_code == 201 and r.data["status"] == "Unpaid" and r.data["balance"] == "10.00"
    r = api.post(inv_path, {"amount": "10.01", "gateway": "manual", "transaction_id": "b"}, role="billing")
    assert r.status_code == 400 and "amount" in r.data["error"]["fields"]
    r = api.post(inv_path, {"amount": "5.00", "gateway": "manual", "transaction_id": "a"}, role="billing")
    assert r.status_code == 409
    r = api.post(inv_path, {"amount": "10.00", "gateway": "manual", "transaction_id": "b"}, role="billing")
    assert r.status_code == 201 and r.data["status"] == "Paid" and r.data["balance"] == "0.00"
    assert r.data["date_paid"]
    detail = api.get(f"/orders/{order['id']}").data
    assert detail["payment_status"] == "Paid"
    assert all(i["payment_status"] == "Paid" for i in detail["items"])
    r = api.post(inv_path, {"amount": "1.00", "gateway": "manual", "transaction_id": "c"}, role="billing")
    assert r.status_code == 409 and r.data["error"]["code"] == "invalid_transition"


def test_no_payment_is_taken_while_an_action_holds_the_order(api):
    # GIVEN an unpaid order held by a running Cancel & Refund (which planned its refunds when it began)
    from orderdesk.domain.model import Action, HistoryEntry
    from orderdesk.domain.statuses import ActionStatus

    c = make_client(api)
    order = api.post("/orders", {"client_id": c["id"], "items": [ITEM], "payment_method": "x"}).data
    repo = stores()
    held = repo.orders.get_order(order["id"])
    action = Action(id="a1", order_id=held.id, type="cancel_refund", status=ActionStatus.RUNNING, steps=[],
                    started_at=held.placed_at)
    repo.actions.start_action(held, action, frozenset({held.status}),
                      HistoryEntry(at=held.placed_at, actor="t", action="cancel & refund started", from_=None, to=None))

    # WHEN a payment is recorded against its invoice
    r = api.post(f"/invoices/{order['invoice_id']}/payments",
                 {"amount": "5.00", "gateway": "manual", "transaction_id": "late"}, role="billing")

    # THEN it is refused as any other action would be, and the invoice is untouched
    assert r.status_code == 409 and r.data["error"]["code"] == "action_in_progress", r.data
    invoice = api.get(f"/invoices/{order['invoice_id']}").data
    assert invoice["transactions"] == [] and invoice["balance"] == "15.00"


def test_affiliate_assign_and_remove_with_history(api):
    c = make_client(api)
    aff = api.post("/affiliates", {"name": "Partner", "email": "p@example.com"}).data
    order = api.post("/orders", {"client_id": c["id"], "items": [ITEM], "payment_method": "x"}).data
    r = api.put(f"/orders/{order['id']}/affiliate", {"affiliate_id": aff["id"]}, role="support")
    assert r.status_code == 200 and r.data["affiliate"] == {"id": aff["id"], "name": "Partner"}
    assert api.get(f"/orders?affiliate_id={aff['id']}").data["orders"][0]["id"] == order["id"]
    r = api.put(f"/orders/{order['id']}/affiliate", {"affiliate_id": None}, role="support")
    assert r.status_code == 200 and r.data["affiliate"] is None
    assert [h["action"] for h in r.data["history"]][-2:] == ["affiliate assigned", "affiliate removed"]
    r = api.put(f"/orders/{order['id']}/affiliate", {"affiliate_id": "ghost"}, role="support")
    assert r.status_code == 400 and "affiliate_id" in r.data["error"]["fields"]


def test_notes_and_404s(api):
    c = make_client(api)
    order = api.post("/orders", {"client_id": c["id"], "items": [ITEM], "payment_method": "x"}).data
    r = api.post(f"/orders/{order['id']}/notes", {"text": "Called the customer"}, role="support")
    assert r.status_code == 201
    detail = api.get(f"/orders/{order['id']}").data
    assert [n["text"] for n in detail["admin_notes"]] == ["Called the customer"]
    assert api.post("/orders/nope/notes", {"text": "x"}).status_code == 404
    assert api.get("/orders/nope").status_code == 404
    assert api.get("/invoices/nope").status_code == 404
    assert api.get("/clients/nope").status_code == 404


@pytest.mark.parametrize("path", ["/orders/{long}", "/orders/{long}/notes", "/invoices/inv-{long}",
                                  "/orders/{order}/actions/{long}", "/orders/a.b", "/bulk-jobs/%20x"])
def test_a_path_id_unlike_any_id_is_a_400_naming_it(api, path):
    # GIVEN an id the OpenAPI document rules out (too long for a DynamoDB key, or odd characters)
    c = make_client(api)
    order = api.post("/orders", {"client_id": c["id"], "items": [ITEM], "payment_method": "x"}).data
    url = path.format(long="a" * 3000, order=order["id"])
    # WHEN it is asked for, THEN it is bad input, not a 500
    r = api.post(url, {"text": "x"}) if url.endswith("/notes") else api.get(url)
    assert r.status_code == 400, r.data
    assert r.data["error"]["fields"], r.data


def test_server_credentials_are_write_only(api, kms):
    r = api.post("/servers", {"name": "web1", "module": "webhook", "url": "https://hooks.example.com/p",
                              "credentials": "s3cret-token-value"})
    assert r.status_code == 201, r.data
    assert "s3cret" not in json.dumps(r.data) and r.data["has_credentials"] is True
    listed = api.get("/servers").data
    assert "s3cret" not in json.dumps(listed)
