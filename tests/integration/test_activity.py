"""The activity log (SPEC §7 "Audit", `GET /activity`): every change of an order is one entry,
derived from the order's history as the table's stream carries it (`order_stream`: the order
stream's real handler reading DynamoDB Local's stream), and a deleted order leaves one entry
with its number, client, total and every payment and refund. Workflows run in moto with the real
step handlers; a recording webhook server stands in for the provisioning server."""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orderdesk.adapters.store import activity as activity_store
from orderdesk.config import reset_settings
from orderdesk.domain.model import HistoryEntry, iso, utcnow
from orderdesk.services.ports import stores
from orderdesk.services.projections import activity as activity_view
from tests.conftest import OrderStream
from tests.integration.test_workflows import new_order, new_server, order_of, pay, run

pytestmark = pytest.mark.timeout(180)



def entries(api: Any, role: str = "viewer", **params: str) -> list[dict[str, Any]]:
    """Every entry the filters match, page after page (the cursor followed to its end)."""
    out: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        r = api.get("/activity?" + "&".join(f"{k}={v}" for k, v in query.items()), role=role)
        assert r.status_code == 200, r.data
        out += r.data["entries"]
        cursor = r.data["next_cursor"]
        if cursor is None:
            return out
    raise AssertionError("the cursor never ended")


def newest_first(got: list[dict[str, Any]]) -> bool:
    return all(a["at"] >= b["at"] for a, b in zip(got, got[1:], strict=False))


def add_history(order_id: str, at: str, action: str = "note added", actor: str = "test") -> None:
    stores().writes.add_history(order_id, HistoryEntry(at=at, actor=actor, action=action, from_=None, to=None))


def placed(api: Any) -> dict[str, Any]:
    return new_order(api, [{"kind": "product", "description": "VPS", "amount": "10.00"}])


# -- every change of an order, once ------------------------------------------------------------


def test_every_change_of_an_order_is_one_entry_once_newest_first_and_its_deletion_keeps_the_money(
        api, workflows, remote, order_stream, table, ddb_client):  # type: ignore[no-untyped-def]
    activity_view.forget_orders()
    # GIVEN an order of a product on a webhook server, a note, a payment by hand and one by credit
    hook = remote()
    order = new_order(api, [{"kind": "product", "description": "VPS", "amount": "10.00",
                             "server_id": new_server(api, hook.url), "username": "ada"},
                            {"kind": "product", "description": "Backup", "amount": "5.00"}])
    oid, number, product = order["id"], order["number"], order["items"][0]["id"]
    assert api.post(f"/orders/{oid}/notes", {"text": "called the client"}, role="support").status_code == 201
    # (a credit payment takes what the client's credit holds)
    r = api.post(f"/clients/{order['client']['id']}/credit", {"amount": "5.00", "reason": "goodwill"},
                 role="billing")
    assert r.status_code == 201, r.data
    pay(api, order, "10.00", "manual", "BANK-1")
    pay(api, order, "5.00", "credit", "CR-1")
    order_stream.settle()  # (these entries read the order's number from the order itself)
    # WHEN it is accepted, one item suspended, cancelled with a refund of both payments, and deleted
    assert run(api, oid, "accept", {}, role="support")["status"] == "SUCCEEDED"
    r = api.post(f"/orders/{oid}/item-commands", {"command": "suspend", "item_ids": [product]}, role="billing")
    assert r.status_code == 202, r.data
    from tests.integration.workflow_support import wait_for_action

    assert wait_for_action(api, oid, r.data["action"]["id"])["status"] == "SUCCEEDED"
    assert run(api, oid, "cancel", {"refund": True})["status"] == "SUCCEEDED"
    history = order_of(api, oid)["history"]
    assert api.delete(f"/orders/{oid}").status_code == 204
    # (the stream reaches these after the order is gone, the number no longer remembered: it comes
    # from what the delete kept)
    activity_view.forget_orders()
    order_stream.settle()
    order_stream.settle()  # read again: nothing new
    listed = entries(api, order_number=number)
    assert [e for e in entries(api) if e["order_id"] == oid] == listed
    # (the credit the payment took and the refund gave back are entries of the order)
    credit = sorted(e["amount"] for e in listed if e["type"] == "credit")
    assert credit == ["-5.00", "5.00"]
    got = [e for e in listed if e["type"] != "credit"]

    # THEN every history entry of the order is one entry, once, with the order's number, plus the
    # delete's start and the deletion itself
    assert all(e["order_number"] == number and e["order_id"] == oid for e in got)
    want = Counter((h["at"], h["action"], h["detail"]) for h in history)
    want[(got[1]["at"], "delete started", None)] += 1
    want[(got[0]["at"], "order deleted", got[0]["detail"])] += 1
    assert Counter((e["at"], e["action"], e["detail"]) for e in got) == want
    assert len({e["id"] for e in got}) == len(got)
    # newest first, the deletion first of all
    assert newest_first(got) and got[0]["type"] == "deletion" and got[1]["action"] == "delete started"
    # each kind of change has its type
    kinds = {(e["action"], e["type"]) for e in got}
    for action, kind in (("order placed", "order"), ("note added", "note"), ("payment recorded", "payment"),
                         ("accept started", "order"), ("item provisioned", "item"), ("accept done", "order"),
                         ("item suspend", "item"), ("cancel & refund started", "order"),
                         ("payment refunded", "refund"), ("items updated", "item"), ("invoice refunded", "invoice"),
                         ("cancel & refund done", "order"), ("delete started", "order"),
                         ("order deleted", "deletion")):
        assert (action, kind) in kinds, (action, kind)
    # money entries say how much
    paid = sorted((e["amount"], e["currency"]) for e in got if e["type"] == "payment")
    refunded = sorted((e["amount"], e["currency"]) for e in got if e["type"] == "refund")
    assert paid == refunded == [("10.00", "USD"), ("5.00", "USD")]
    assert all(e["amount"] is None for e in got if e["type"] in ("note", "item"))

    # AND the deletion entry holds the number, client, total and every payment and refund
    deletion = got[0]
    gone = deletion["deleted_order"]
    assert deletion["actor"] == history[0]["actor"] and deletion["amount"] == "15.00"
    assert gone["number"] == number and gone["total"] == "15.00" and gone["currency"] == "USD"
    assert gone["client"] == order["client"] and deletion["client_id"] == order["client"]["id"]
    assert gone["status"] == "Cancelled"
    assert sorted((p["gateway"], p["transaction_id"], p["amount"]) for p in gone["payments"]) == [
        ("credit", "CR-1", "5.00"), ("manual", "BANK-1", "10.00")]
    assert sorted((p["gateway"], p["amount"]) for p in gone["refunds"]) == [("credit", "5.00"), ("manual", "10.00")]
    assert {p["refund_of"] for p in gone["refunds"]} == {p["id"] for p in gone["payments"]}
    assert "BANK-1" in deletion["detail"] and number in deletion["detail"]
    # and the order itself is gone
    assert api.get(f"/orders/{oid}").status_code == 404

    # WHEN a fresh reader reads the whole stream again from its start
    assert OrderStream(table).settle() > 0
    # THEN nothing is added or changed
    assert entries(api, order_number=number) == listed


# -- the deletion entry -------------------------------------------------------------------------


def test_the_deletion_entry_is_written_with_the_delete_and_expires_the_retention_after_it(
        api, table, ddb_client, monkeypatch):  # type: ignore[no-untyped-def]
    # GIVEN a retention of 30 days and a cancelled order paid in part
    monkeypatch.setenv("AUDIT_RETENTION_DAYS", "30")
    reset_settings()
    order = placed(api)
    pay(api, order, "4.00", "manual", "T-4")
    cancel_at_once(order["id"])
    # WHEN it is deleted (no stream read at all)
    before = utcnow()
    assert api.delete(f"/orders/{order['id']}").status_code == 204
    # THEN its deletion entry is listed at once, with the payment
    (entry,) = entries(api, order_number=order["number"], type="deletion")
    assert [(p["gateway"], p["transaction_id"], p["amount"]) for p in entry["deleted_order"]["payments"]] == [
        ("manual", "T-4", "4.00")]
    assert entry["deleted_order"]["refunds"] == []
    # and it expires 30 days after the delete (the table's TTL attribute)
    (item,) = raw_entries(ddb_client, table, order["number"])
    expires = datetime.fromtimestamp(int(item["ttl"]["N"]), UTC)
    deleted = datetime.fromisoformat(entry["at"].replace("Z", "+00:00"))
    assert expires == deleted + timedelta(days=30)
    assert before - timedelta(seconds=1) <= deleted <= utcnow()


def test_a_delete_resumed_after_its_records_went_still_leaves_the_whole_deletion_entry(api, table):  # type: ignore[no-untyped-def]
    # GIVEN a cancelled, paid order whose delete died after removing every record but the order's
    order = placed(api)
    pay(api, order, "10.00", "manual", "T-9")
    cancel_at_once(order["id"])
    from orderdesk.services import actions

    real = stores().orders.delete_order_record

    def dies(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the function died")

    stores().orders.delete_order_record = dies  # type: ignore[method-assign]
    try:
        with pytest.raises(RuntimeError):
            actions.delete_order(order["id"], "first-admin")
    finally:
        stores().orders.delete_order_record = real  # type: ignore[method-assign]
    assert stores().orders.get_order(order["id"]).invoice is None  # its invoice is gone already
    # WHEN the delete is resumed
    assert api.delete(f"/orders/{order['id']}").status_code == 204
    # THEN its entry still names the payment the order carried, once
    (entry,) = entries(api, order_number=order["number"], type="deletion")
    assert [p["transaction_id"] for p in entry["deleted_order"]["payments"]] == ["T-9"]
    assert entry["actor"] == "first-admin"


# -- the list: filters, pages, cursors ----------------------------------------------------------


def test_each_filter_reads_what_it_names(api, client, token, order_stream):  # type: ignore[no-untyped-def]
    # GIVEN two orders, changes by two people, and history entries at chosen times
    first, second = placed(api), placed(api)
    other = token("support", subject="agent-7")
    r = client.http.request("POST", f"/orders/{second['id']}/notes", body=json.dumps({"text": "hi"}),
                            headers={"Authorization": f"Bearer {other}", "Content-Type": "application/json"})
    assert r.status_code == 201
    add_history(first["id"], "2024-03-01T10:00:00Z")
    add_history(first["id"], "2024-03-02T23:59:59Z", action="payment recorded")
    add_history(second["id"], "2024-03-03T00:00:00Z")
    order_stream.settle()
    everything = entries(api)
    agent = next(e["actor"] for e in everything if e["action"] == "note added" and e["at"] > "2025")

    # WHEN each filter is given THEN exactly its entries come back, newest first
    assert {e["order_number"] for e in entries(api, order_number=first["number"])} == {first["number"]}
    assert len(entries(api, order_number=first["number"])) == 3
    assert [e["actor"] for e in entries(api, actor=agent)] == [agent]
    assert {e["type"] for e in entries(api, type="note")} == {"note"} and len(entries(api, type="note")) == 3
    march = entries(api, **{"from": "2024-03-01", "to": "2024-03-02"})
    assert [e["at"] for e in march] == ["2024-03-02T23:59:59Z", "2024-03-01T10:00:00Z"]
    assert [e["at"] for e in entries(api, **{"from": "2024-03-02T12:00:00Z", "to": "2024-03-03"})] == [
        "2024-03-03T00:00:00Z", "2024-03-02T23:59:59Z"]
    both = entries(api, order_number=first["number"], type="payment", **{"to": "2024-12-31"})
    assert [e["at"] for e in both] == ["2024-03-02T23:59:59Z"]
    assert newest_first(everything) and len(everything) == 6
    assert entries(api, order_number="999") == []


def test_pages_are_complete_without_repeats_and_a_filtered_page_reads_a_bounded_amount(
        api, order_stream, monkeypatch):  # type: ignore[no-untyped-def]
    # GIVEN two orders in two shards of the log: 16 entries of one in the first 16 minutes, 8 of
    # the other in the 8 after, a quarter of them payments
    from orderdesk.adapters.store.keys import shard_of

    first = placed(api)
    second = next(o for o in (placed(api) for _ in range(20))
                  if shard_of(o["id"], 8) != shard_of(first["id"], 8))
    base = datetime(2025, 1, 1, tzinfo=UTC)
    for n in range(24):
        add_history((first if n < 16 else second)["id"], iso(base + timedelta(minutes=n)),
                    action="payment recorded" if n % 4 == 0 else "note added")
    order_stream.settle()
    window = {"from": "2025-01-01", "to": "2025-01-01"}
    every = entries(api, **window)
    assert len(every) == 24 and newest_first(every)
    # WHEN read 5 at a time THEN the pages are the whole list, in order, each entry once
    assert entries(api, limit="5", **window) == every
    # WHEN a filtered page may read only 4 entries of each shard
    monkeypatch.setattr(activity_store, "FILTERED_READ", 4)
    pages, cursor = [], None
    while True:
        query = "&".join(f"{k}={v}" for k, v in {**window, "type": "payment", "limit": "5",
                                                  **({"cursor": cursor} if cursor else {})}.items())
        r = api.get(f"/activity?{query}")
        assert r.status_code == 200, r.data
        pages.append(r.data["entries"])
        cursor = r.data["next_cursor"]
        if cursor is None:
            break
    # THEN pages came back short though more followed (one read 4 of the dense shard and 4 of
    # the other), and together they are every payment, once, newest first
    assert any(len(p) < 5 for p in pages[:-1]) and len(pages) > 2
    payments = [e for p in pages for e in p]
    assert payments == [e for e in every if e["type"] == "payment"] and len(payments) == 6


def test_a_cursor_tampered_with_or_given_other_filters_is_a_400_naming_it(api, order_stream):  # type: ignore[no-untyped-def]
    # GIVEN a first page with a cursor
    order = placed(api)
    for n in range(3):
        add_history(order["id"], f"2025-02-0{n + 1}T00:00:00Z")
    order_stream.settle()
    r = api.get("/activity?limit=2")
    cursor = r.data["next_cursor"]
    assert cursor and api.get(f"/activity?limit=2&cursor={cursor}").status_code == 200
    # WHEN the cursor's position is changed, it is cut, or it comes with other filters
    body, sig = cursor.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["p"] = "2099-01-01T00:00:00Z"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=") + "." + sig
    for bad in (forged, cursor[:-3], "nonsense"):
        got = api.get(f"/activity?limit=2&cursor={bad}")
        # THEN each is a 400 naming the cursor
        assert got.status_code == 400 and "cursor" in got.data["error"]["fields"], bad
    other = api.get(f"/activity?limit=2&type=note&cursor={cursor}")
    assert other.status_code == 400 and "cursor" in other.data["error"]["fields"]


def test_bad_filters_are_a_400_naming_each(api):  # type: ignore[no-untyped-def]
    r = api.get("/activity?type=shipping&from=yesterday&limit=0&order_number=12a")
    assert r.status_code == 400
    assert set(r.data["error"]["fields"]) == {"type", "from", "limit", "order_number"}
    assert api.get("/activity?colour=red").status_code == 400


# -- retention ----------------------------------------------------------------------------------


def test_entries_carry_the_retention_and_one_past_it_is_no_longer_listed(api, table, ddb_client, order_stream):  # type: ignore[no-untyped-def]
    # GIVEN an order placed now and a history entry from ten years ago (past the 2555 days)
    order = placed(api)
    add_history(order["id"], "2015-01-01T00:00:00Z")
    # WHEN the stream is read
    order_stream.settle()
    # THEN the entry of its placing expires AUDIT_RETENTION_DAYS after it, the old one is not listed
    listed = entries(api, order_number=order["number"])
    assert [e["action"] for e in listed] == ["order placed"]
    ttls = sorted(int(i["ttl"]["N"]) for i in raw_entries(ddb_client, table, order["number"]))
    placed_at = datetime.fromisoformat(order["placed_at"].replace("Z", "+00:00"))
    assert ttls == [int((datetime(2015, 1, 1, tzinfo=UTC) + timedelta(days=2555)).timestamp()),
                    int((placed_at + timedelta(days=2555)).timestamp())]


# -- the credit ledger ------------------------------------------------------------------------------


def test_every_credit_ledger_entry_is_one_entry_once(api, table, order_stream):  # type: ignore[no-untyped-def]
    # GIVEN a client given credit by hand, then an order of theirs paid with it
    order = placed(api)
    client_id = order["client"]["id"]
    r = api.post(f"/clients/{client_id}/credit", {"amount": "20.00", "reason": "goodwill"}, role="billing")
    assert r.status_code == 201, r.data
    pay(api, order, "10.00", "credit", "CR-7")
    # WHEN the stream is read, twice, and again from its start
    order_stream.settle()
    order_stream.settle()
    OrderStream(table).settle()
    # THEN each ledger entry is one credit entry: the adjustment, and the payment's with its order
    credit = entries(api, type="credit")
    assert sorted((e["amount"], e["order_number"]) for e in credit) == [("-10.00", order["number"]),
                                                                        ("20.00", None)]
    assert all(e["client_id"] == client_id for e in credit)


# -- helpers ------------------------------------------------------------------------------------


def cancel_at_once(order_id: str) -> None:
    """Cancelled, as a cancel leaves it (the cancel itself is tested with the workflows)."""
    from orderdesk.domain.changes import OrderChange
    from orderdesk.domain.statuses import ItemStatus, OrderStatus

    order = stores().orders.get_order(order_id)
    stores().writes.apply(order, OrderChange(to_status=OrderStatus.CANCELLED, item_status=ItemStatus.CANCELLED,
                                             history=[HistoryEntry(at=iso(utcnow()), actor="test", action="cancelled",
                                                                   from_="Pending", to="Cancelled")]))


def raw_entries(ddb_client: Any, table: str, number: str) -> list[dict[str, Any]]:
    """An order's activity entries as stored (its number's partition of `by_type`)."""
    return ddb_client.query(TableName=table, IndexName="by_type", KeyConditionExpression="gsi4pk = :p",
                            ExpressionAttributeValues={":p": {"S": f"ACTIVITYNO#{number}"}})["Items"]
