"""What the fuzzing (tests/e2e/test_fuzz.py) found, pinned down through chalice.test.Client so
each finding stays fixed even when the fuzzer's examples change."""

from __future__ import annotations

import re

import jsonschema
import pytest

from orderdesk.services.ports import stores

ITEM = {"kind": "product", "description": "Hosting", "amount": "15.00"}


def new_client(api, **fields):  # type: ignore[no-untyped-def]
    body = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "country": "GB", **fields}
    r = api.post("/clients", body)
    assert r.status_code == 201, r.data
    return r.data


def test_client_search_by_name_email_or_company_answers(api):
    # GIVEN clients (found: every GET /clients?q= was a 500, a key of the index in a filter)
    ada = new_client(api, company="Analytical Engines Ltd")
    grace = new_client(api, first_name="Grace", last_name="Hopper", email="grace@navy.example.com", company=None)
    # WHEN searched by part of a name (any case), of an email, of a company
    found = {q: {c["id"] for c in api.get(f"/clients?q={q}").data["clients"]}
             for q in ("lovelace", "GRACE", "navy.example", "Analytical", "nobody-like-this")}
    # THEN each finds its client, and only it
    assert found["lovelace"] == {ada["id"]} and found["GRACE"] == {grace["id"]}
    assert found["navy.example"] == {grace["id"]} and found["Analytical"] == {ada["id"]}
    assert found["nobody-like-this"] == set()


def test_one_idempotency_key_on_two_orders_is_two_requests(api):
    # GIVEN two orders (found: the key's scope was the route's template, so the second order's
    # request replayed the first order's answer and did nothing)
    client = new_client(api)
    a, b = (api.post("/orders", {"client_id": client["id"], "items": [ITEM], "payment_method": "x"}).data
            for _ in range(2))
    headers = {"Idempotency-Key": "note-1"}
    # WHEN the same key and body go to each order's notes, and once more to the first
    ra = api.post(f"/orders/{a['id']}/notes", {"text": "called"}, headers=headers)
    rb = api.post(f"/orders/{b['id']}/notes", {"text": "called"}, headers=headers)
    again = api.post(f"/orders/{a['id']}/notes", {"text": "called"}, headers=headers)
    # THEN each order got its note, and the repeat on the first was a replay
    assert ra.status_code == rb.status_code == again.status_code == 201
    assert ra.data["id"] != rb.data["id"] and again.data == ra.data
    assert [n["text"] for n in api.get(f"/orders/{a['id']}").data["admin_notes"]] == ["called"]
    assert [n["text"] for n in api.get(f"/orders/{b['id']}").data["admin_notes"]] == ["called"]


def test_a_bad_nested_object_names_its_own_field(api):
    # GIVEN an accept whose item options are a list, not an object (found: named "body")
    r = api.post("/orders/o1/accept", {"items": {"item1": []}}, role="support")
    # THEN the 400 names that field
    assert r.status_code == 400
    assert set(r.data["error"]["fields"]) == {"items.item1"}, r.data


@pytest.mark.parametrize("key,ok", [
    ("a", True), ("order-42:retry", True), ("x" * 200, True), ("with inner space", True),
    ("x" * 201, False), ("caf\u00e9", False), ("tab\there", False), ("\u00a0nbsp", False),
])
def test_idempotency_key_rule_is_the_documented_one(api, key, ok):
    # GIVEN the rule the OpenAPI document gives the header (found: the document allowed keys the
    # API refused: a key of printable non-ASCII characters)
    import app as app_module

    doc = app_module.api.openapi("OrderDesk API", "1.0.0")
    param = next(p for p in doc["paths"]["/clients"]["post"]["parameters"] if p["name"] == "Idempotency-Key")
    try:
        jsonschema.validate(key, param["schema"])
        documented = True
    except jsonschema.ValidationError:
        documented = False
    # WHEN a request carries the key
    r = api.post("/clients", {"first_name": "A", "last_name": "B", "email": "a@example.com", "country": "GB"},
                 headers={"Idempotency-Key": key})
    # THEN the API and the document agree with each other and with the rule
    assert documented is ok, key
    assert (r.status_code == 201) is ok, (key, r.status_code, r.data)
    if not ok:
        assert "Idempotency-Key" in r.data["error"]["fields"]


def test_the_document_links_created_resources_to_their_operations(api):
    # GIVEN the OpenAPI document (a stateful fuzzer, or a client, follows its links)
    import app as app_module

    doc = app_module.api.openapi("OrderDesk API", "1.0.0")
    # THEN a created order links to its detail and actions, an action start to the action, a bulk
    # job to its progress, an invoice to its order
    links = doc["paths"]["/orders"]["post"]["responses"]["201"]["links"]
    assert links["get_order"]["parameters"] == {"order_id": "$response.body#/id"}
    assert links["get_invoice"]["parameters"] == {"invoice_id": "$response.body#/invoice_id"}
    assert {"cancel_order", "set_fraud", "accept_order", "delete_order", "record_payment", "add_note"} <= set(links)
    action = doc["paths"]["/orders/{order_id}/cancel"]["post"]["responses"]["202"]["links"]["get_action"]
    assert action["parameters"] == {"order_id": "$request.path.order_id", "action_id": "$response.body#/action/id"}
    job = doc["paths"]["/orders/bulk"]["post"]["responses"]["202"]["links"]["get_bulk_job"]
    assert job["parameters"] == {"job_id": "$response.body#/job/id"}
    invoice = doc["paths"]["/invoices/{invoice_id}"]["get"]["responses"]["200"]["links"]
    assert invoice["get_order"]["parameters"] == {"order_id": "$response.body#/order_id"}
    # AND a created order links to an item command on its first item, whose action links on
    command = links["run_item_commands"]
    assert command["parameters"] == {"order_id": "$response.body#/id"}
    assert command["requestBody"] == {"item_ids": ["$response.body#/items/0/id"]}
    started = doc["paths"]["/orders/{order_id}/item-commands"]["post"]["responses"]["202"]["links"]["get_action"]
    assert started["parameters"] == {"order_id": "$request.path.order_id", "action_id": "$response.body#/action/id"}
    # AND every link names an operation and fills exactly its path parameters
    ops = {op["operationId"]: path for path, methods in doc["paths"].items() for op in methods.values()}
    for path, methods in doc["paths"].items():
        for op in methods.values():
            for response in op["responses"].values():
                for link in response.get("links", {}).values():
                    target = ops[link["operationId"]]
                    assert set(link["parameters"]) == set(re.findall(r"{(\w+)}", target)), (path, link)


# -- found by the races (tests/e2e/test_races.py) -------------------------------------------------


def cancelled_order(api):  # type: ignore[no-untyped-def]
    from orderdesk.domain.changes import OrderChange
    from orderdesk.domain.model import HistoryEntry, iso, utcnow
    from orderdesk.domain.statuses import ItemStatus, OrderStatus

    client = new_client(api)
    order = api.post("/orders", {"client_id": client["id"], "items": [ITEM], "payment_method": "x",
                                 "skip_fraud_check": True}).data
    repo = stores()
    repo.writes.apply(repo.orders.get_order(order["id"]), OrderChange(
        to_status=OrderStatus.CANCELLED, item_status=ItemStatus.CANCELLED,
        history=[HistoryEntry(at=iso(utcnow()), actor="test", action="cancelled", from_="Pending", to="Cancelled")]))
    return order["id"]


def lose_the_race_once(monkeypatch, store: type, method: str, winner):  # type: ignore[no-untyped-def]
    """The first call of a data module's `method` finds that `winner` got there first: the winner's
    change is applied (`winner(original_method)`), and the call fails as a transaction that lost
    the race does."""
    from orderdesk.domain.errors import ConcurrentUpdate

    original = getattr(store, method)
    calls = []

    def first_loses(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:
            winner(original)
            raise ConcurrentUpdate("lost the race")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(store, method, first_loses)
    return calls


def test_an_action_that_lost_a_race_is_refused_not_applied_to_the_winners_result(api, workflows, monkeypatch):
    # GIVEN a Cancelled order, and Set Back to Pending winning the race against Set as Fraud
    # (found: the fraud start read the order again after losing, saw Pending, and went on: both
    # actions took effect)
    from orderdesk.adapters.store.actions import Actions
    from orderdesk.services import actions

    order_id = cancelled_order(api)
    calls = lose_the_race_once(monkeypatch, Actions, "start_action",
                               lambda _: actions.back_to_pending(order_id, "rival"))
    # WHEN Set as Fraud is asked
    r = api.post(f"/orders/{order_id}/fraud", role="billing")
    # THEN it is refused with 409; the order is as the winner left it, with no fraud action
    assert r.status_code == 409 and r.data["error"]["code"] == "invalid_transition", r.data
    assert len(calls) == 1
    got = api.get(f"/orders/{order_id}").data
    assert got["status"] == "Pending" and got["pending_action"] is None and got["actions"] == []


def test_back_to_pending_that_lost_a_race_is_refused(api, monkeypatch):
    # GIVEN a Cancelled order that a bulk change moves to Fraud while Set Back to Pending runs
    from orderdesk.adapters.store.order_writes import OrderWrites
    from orderdesk.domain.changes import OrderChange
    from orderdesk.domain.statuses import OrderStatus

    order_id = cancelled_order(api)
    repo = stores()
    lose_the_race_once(monkeypatch, OrderWrites, "apply", lambda original: original(
        repo.writes, repo.orders.get_order(order_id), OrderChange(to_status=OrderStatus.FRAUD)))
    # WHEN Set Back to Pending is asked
    r = api.post(f"/orders/{order_id}/pending", role="support")
    # THEN it is refused with 409 and the order stays as the bulk change left it
    assert r.status_code == 409 and r.data["error"]["code"] == "invalid_transition", r.data
    assert api.get(f"/orders/{order_id}").data["status"] == "Fraud"


def test_the_loser_of_two_racing_deletes_is_told_the_order_is_gone(api, monkeypatch):
    # GIVEN a Cancelled order whose record a concurrent DELETE removes just before this one's
    # last write (found: the loser got 409 concurrent_update "changed meanwhile")
    from orderdesk.adapters.store.orders import Orders
    from orderdesk.services import actions

    order_id = cancelled_order(api)
    lose_the_race_once(monkeypatch, Orders, "delete_order_record",
                       lambda original: actions.delete_order(order_id, "rival"))
    # WHEN it is deleted THEN 404 (the order is gone), and nothing of it is left
    r = api.delete(f"/orders/{order_id}")
    assert r.status_code == 404 and r.data["error"]["code"] == "not_found", r.data
    assert api.get(f"/orders/{order_id}").status_code == 404
