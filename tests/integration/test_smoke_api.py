"""First end-to-end smoke: client → order → list → detail → payment."""

from orderdesk.services.ports import stores


def test_create_and_read_order(api, order_stream):
    # GIVEN a client
    r = api.post("/clients", {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
                              "country": "GB"})
    assert r.status_code == 201, r.data
    client_id = r.data["id"]
    # WHEN an order is added
    r = api.post("/orders", {"client_id": client_id, "payment_method": "stripe",
                             "items": [{"kind": "product", "description": "Hosting", "amount": "10.00"},
                                       {"kind": "domain", "description": "Domain", "amount": "12.50",
                                        "domain": "example.com"}],
                             "discount": "2.50"})
    assert r.status_code == 201, r.data
    order = r.data
    # THEN it is Pending with an Unpaid invoice of lines minus discount
    assert order["status"] == "Pending"
    assert order["total"] == "20.00"
    assert order["invoice"]["status"] == "Unpaid"
    r = api.get(f"/orders/{order['id']}")
    assert r.status_code == 200, r.data
    assert [i["status"] for i in r.data["items"]] == ["Pending", "Pending"]
    r = api.get("/orders?status=Pending")
    assert r.status_code == 200, r.data
    assert [o["id"] for o in r.data["orders"]] == [order["id"]]
    r = api.post(f"/invoices/{order['invoice_id']}/payments",
                 {"amount": "20.00", "gateway": "manual", "transaction_id": "t1"})
    assert r.status_code == 201, r.data
    assert r.data["status"] == "Paid"
    r = api.get("/orders?payment_status=Paid")
    assert [o["id"] for o in r.data["orders"]] == [order["id"]]
    order_stream.settle()
    r = api.get("/order-statuses")
    assert {x["status"]: x["count"] for x in r.data}["Pending"] == 1


def test_lock_sweep_reads_only_locked_orders(api):
    """The sparse LOCKED#<shard> index entry exists exactly while an order carries a lock."""
    from orderdesk.domain.changes import OrderChange
    from orderdesk.domain.model import PendingAction

    # GIVEN two orders, one of them locked by an action
    r = api.post("/clients", {"first_name": "Lin", "last_name": "Lock", "email": "l@example.com", "country": "GB"})
    body = {"client_id": r.data["id"], "payment_method": "x",
            "items": [{"kind": "product", "description": "VPS", "amount": "5.00"}]}
    locked, free = api.post("/orders", body).data, api.post("/orders", body).data
    repo = stores()
    order = repo.orders.get_order(locked["id"])
    repo.writes.apply(order, OrderChange(set_lock=PendingAction(action_id="a1", type="cancel",
                                                                started_at="2026-01-01T00:00:00Z")))
    # THEN the sweep finds that one only
    assert [o.id for o in repo.orders.iter_locked_orders()] == [locked["id"]]
    assert free["id"] != locked["id"]
    # AND once the lock is cleared, none
    repo.writes.apply(repo.orders.get_order(locked["id"]), OrderChange(clear_lock=True), holder="a1")
    assert list(repo.orders.iter_locked_orders()) == []


def test_an_api_idempotency_key_is_held_only_until_the_lambda_timeout(table):
    """A request whose invocation dies must not block its Idempotency-Key for the record's whole
    lifetime: the in-progress record carries the invocation's deadline."""
    import boto3

    from orderdesk.adapters.idempotency import run_once

    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 20_000

    seen: dict = {}

    def handler() -> dict:
        # WHILE the request runs, its in-progress record is in the table
        items = boto3.client("dynamodb").query(
            TableName=table, KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "IDEMPOTENCY#api"}})["Items"]
        seen.update(items[0])
        return {"status": 201, "body": {"ok": True}}

    assert run_once("api", "k1", "digest", handler, lambda_context=Context())["body"] == {"ok": True}
    # THEN it carried the deadline (now + remaining time, in ms), not just the record's TTL
    assert "in_progress_expiration" in seen and seen["status"]["S"] == "INPROGRESS"
