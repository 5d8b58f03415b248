"""Bulk status changes over SQS (moto's server over HTTP) with the real consumer and DynamoDB Local:
exact counters and reasons, redelivery after a crash between moving and counting, concurrent
duplicates, poison messages."""

from __future__ import annotations

import json
import threading
import time

import pytest

from functions.bulk_status import app as bulk_app
from infra.local.event_sources import SqsPoller
from orderdesk.adapters.store.bulk_jobs import BulkJobs
from orderdesk.adapters.store.order_writes import OrderWrites
from orderdesk.domain.statuses import ItemStatus, OrderStatus
from orderdesk.services import bulk
from orderdesk.services.ports import stores
from tests.integration.events_support import bulk_queue, lock, moto, seed  # noqa: F401

pytestmark = pytest.mark.timeout(300)  # a hang guard, not a speed test: a busy 2-core machine took over 120 s


def _poller(q, **kw) -> SqsPoller:  # type: ignore[no-untyped-def]
    return SqsPoller(q.url, kw.pop("handler", bulk_app.handler), batch_size=10, wait_seconds=0, **kw)


def _queue_depth(q, url: str | None = None) -> int:  # type: ignore[no-untyped-def]
    attrs = q.sqs.get_queue_attributes(QueueUrl=url or q.url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_bulk_of_500_counts_exactly_with_reasons(api, bulk_queue, order_stream):  # noqa: F811
    # GIVEN 470 Pending and 10 Active orders, 10 of the Pending ones locked by a running action,
    # and 20 ids that are no order at all
    t0 = time.monotonic()
    _, orders = seed(480, [OrderStatus.PENDING] * 47 + [OrderStatus.ACTIVE])
    seeded_in = time.monotonic() - t0
    repo = stores()
    pending = [o for o in orders if o.status is OrderStatus.PENDING]
    active = [o for o in orders if o.status is OrderStatus.ACTIVE]
    locked = pending[:10]
    for order in locked:
        lock(repo, order)
    unknown = [f"nosuchorder{i:03d}" for i in range(20)]
    ids = [o.id for o in orders] + unknown
    assert len(ids) == 500 and len(active) == 10
    # WHEN an admin sets them all Active in bulk and the consumer works the queue off
    r = api.post("/orders/bulk", {"order_ids": ids, "status": "Active"})
    assert r.status_code == 202, r.data
    job = r.data["job"]
    assert job["status"] == "QUEUED" and job["total"] == 500
    assert _queue_depth(bulk_queue) == 2  # 250 order ids per message
    t1 = time.monotonic()
    received = _poller(bulk_queue).drain()
    consumed_in = time.monotonic() - t1
    assert received == 2
    # THEN the job is DONE with exact counters and every failure named with its reason
    r = api.get(f"/bulk-jobs/{job['id']}", role="viewer")
    assert r.status_code == 200, r.data
    body = r.data
    assert (body["status"], body["total"], body["succeeded"], body["failed"]) == ("DONE", 500, 460, 40)
    reasons = {f["order_id"]: f["error"] for f in body["failures"]}
    assert len(reasons) == 40
    assert {reasons[o.id] for o in locked} == {"action in progress"}
    assert {reasons[i] for i in unknown} == {"unknown order"}
    assert all(reasons[o.id].startswith("invalid transition") for o in active)
    # AND only the order's status moved: items untouched, one history entry, counters right
    order_stream.settle()  # the move's history entry follows from the stream
    moved = repo.orders.get_order(pending[-1].id)
    assert moved.status is OrderStatus.ACTIVE
    assert {i.status for i in moved.items} == {ItemStatus.PENDING}
    assert [h.action for h in moved.history].count("bulk status change") == 1
    assert repo.orders.get_order_header(locked[0].id).status is OrderStatus.PENDING
    order_stream.settle()
    counts = {x["status"]: x["count"] for x in api.get("/order-statuses").data}
    assert counts == {"Pending": 10, "Active": 470, "Cancelled": 0, "Fraud": 0, "Attention": 0}
    assert _queue_depth(bulk_queue) == 0
    print(f"\nseeded 480 orders in {seeded_in:.1f}s; consumed 500 bulk orders in {consumed_in:.1f}s")


def test_crash_mid_batch_then_redelivery_counts_nothing_twice(api, bulk_queue, monkeypatch, order_stream):  # noqa: F811
    # GIVEN 60 Pending orders queued for Cancelled in bulk, in messages of 25 (a tenth of the
    # deployed size, for speed): three messages, 25, 25 and 10
    monkeypatch.setattr(bulk, "CHUNK", 25)
    _, orders = seed(60, [OrderStatus.PENDING])
    r = api.post("/orders/bulk", {"order_ids": [o.id for o in orders], "status": "Cancelled"})
    job_id = r.data["job"]["id"]
    # AND a consumer whose invocation dies after its second message's orders were moved but before
    # that message was counted (no message deleted: the whole batch comes back)
    repo = stores()
    real = BulkJobs.count_chunk
    calls = {"n": 0}

    class Crash(BaseException):
        pass

    def dying(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise Crash()
        return real(self, *args, **kwargs)

    def handler(event, context):  # type: ignore[no-untyped-def]
        try:
            return bulk_app.handler(event, context)
        except Crash as exc:
            raise RuntimeError("the Lambda runtime died mid-batch") from exc

    monkeypatch.setattr(BulkJobs, "count_chunk", dying)
    poller = _poller(bulk_queue, handler=handler, visibility_timeout=0)
    assert poller.run_once() == 3
    mid = api.get(f"/bulk-jobs/{job_id}").data
    assert (mid["status"], mid["succeeded"]) == ("RUNNING", 25)
    moved = sum(repo.orders.get_order_header(o.id).status is OrderStatus.CANCELLED for o in orders)
    assert moved == 50  # the second message's orders moved, not yet counted
    order_stream.settle()
    counts = {x["status"]: x["count"] for x in api.get("/order-statuses").data}
    assert (counts["Pending"], counts["Cancelled"]) == (10, 50)  # the counters follow each order's move
    # WHEN every message is delivered again
    monkeypatch.setattr(BulkJobs, "count_chunk", real)
    poller.drain()
    # THEN each order counted once and changed once, and the status counters are exact
    done = api.get(f"/bulk-jobs/{job_id}").data
    assert (done["status"], done["succeeded"], done["failed"]) == ("DONE", 60, 0)
    order_stream.settle()
    for order in orders[20:30]:  # either side of the first message's end
        full = repo.orders.get_order(order.id)
        assert full.status is OrderStatus.CANCELLED
        assert [h.action for h in full.history].count("bulk status change") == 1
    order_stream.settle()
    counts = {x["status"]: x["count"] for x in api.get("/order-statuses").data}
    assert counts["Cancelled"] == 60 and counts["Pending"] == 0


def test_same_message_delivered_twice_at_once_counts_once(api, bulk_queue, order_stream):  # noqa: F811
    # GIVEN a job of 10 Pending orders
    _, orders = seed(10, [OrderStatus.PENDING])
    r = api.post("/orders/bulk", {"order_ids": [o.id for o in orders], "status": "Fraud"})
    job_id = r.data["job"]["id"]
    body = {"job_id": job_id, "target": "Fraud", "actor": "admin", "chunk": 0, "order_ids": [o.id for o in orders]}
    # WHEN two consumers process the same message at the same time (SQS is at-least-once)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            bulk.process_message(json.loads(json.dumps(body)))
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    # THEN every order is counted once
    job = api.get(f"/bulk-jobs/{job_id}").data
    assert (job["status"], job["succeeded"], job["failed"]) == ("DONE", 10, 0)
    order_stream.settle()
    assert all([h.action for h in stores().orders.get_order(o.id).history].count("bulk status change") == 1
               for o in orders)
    order_stream.settle()
    counts = {x["status"]: x["count"] for x in api.get("/order-statuses").data}
    assert counts["Fraud"] == 10 and counts["Pending"] == 0


def test_poison_message_goes_to_the_dlq_after_three_receives(bulk_queue):  # noqa: F811
    # GIVEN a message no consumer can read
    bulk_queue.sqs.send_message(QueueUrl=bulk_queue.url, MessageBody="{not json")
    poller = _poller(bulk_queue, visibility_timeout=0)
    # WHEN it has been received three times, failing each time
    for _ in range(3):
        assert poller.run_once() == 1
    # THEN the next receive parks it in the dead-letter queue, untouched
    assert poller.run_once() == 0
    assert _queue_depth(bulk_queue) == 0
    parked = bulk_queue.sqs.receive_message(QueueUrl=bulk_queue.dlq_url, AttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in parked] == ["{not json"]


def test_an_order_failing_every_delivery_is_counted_failed_on_the_last(api, bulk_queue, monkeypatch):  # noqa: F811
    # GIVEN a job of 3 orders, one of which breaks the store on every try
    _, orders = seed(3, [OrderStatus.PENDING])
    bad = orders[1].id
    repo = stores()
    real_move = OrderWrites.bulk_move

    def bulk_move(self, job_id, order_id, decision, allowed):  # type: ignore[no-untyped-def]
        if order_id == bad:
            raise RuntimeError("store unavailable")
        return real_move(self, job_id, order_id, decision, allowed)

    monkeypatch.setattr(OrderWrites, "bulk_move", bulk_move)
    job_id = api.post("/orders/bulk", {"order_ids": [o.id for o in orders], "status": "Cancelled"}).data["job"]["id"]
    poller = _poller(bulk_queue, visibility_timeout=0)
    # WHEN the message fails three deliveries
    for _ in range(3):
        poller.run_once()
    # THEN the job still finishes with exact counters, the failure says why, the message is parked
    job = api.get(f"/bulk-jobs/{job_id}").data
    assert (job["status"], job["succeeded"], job["failed"]) == ("DONE", 2, 1)
    assert job["failures"] == [{"order_id": bad, "error": "internal error: store unavailable"}]
    assert repo.orders.get_order_header(bad).status is OrderStatus.PENDING
    assert {repo.orders.get_order_header(o.id).status for o in (orders[0], orders[2])} == {OrderStatus.CANCELLED}
    poller.run_once()
    assert _queue_depth(bulk_queue) == 0
    assert len(bulk_queue.sqs.receive_message(QueueUrl=bulk_queue.dlq_url)["Messages"]) == 1


def test_bulk_delete_only_cancelled_or_fraud(api, bulk_queue):  # noqa: F811
    # GIVEN a Cancelled, a Fraud and a Pending order
    _, orders = seed(3, [OrderStatus.CANCELLED, OrderStatus.FRAUD, OrderStatus.PENDING])
    # WHEN an admin deletes all three in bulk
    r = api.post("/orders/bulk", {"order_ids": [o.id for o in orders], "delete": True})
    assert r.status_code == 202, r.data
    _poller(bulk_queue).drain()
    # THEN the Cancelled and Fraud ones are gone, the Pending one stays with its reason
    job = api.get(f"/bulk-jobs/{r.data['job']['id']}").data
    assert (job["status"], job["succeeded"], job["failed"]) == ("DONE", 2, 1)
    assert job["failures"][0]["order_id"] == orders[2].id
    assert job["failures"][0]["error"].startswith("invalid transition")
    for order in orders[:2]:
        assert api.get(f"/orders/{order.id}").status_code == 404
    assert api.get(f"/orders/{orders[2].id}").status_code == 200


@pytest.mark.parametrize("body,field", [
    ({"order_ids": ["a"] * 1001, "status": "Active"}, "order_ids"),
    ({"order_ids": ["a"]}, "status"),
    ({"order_ids": ["a"], "status": "Active", "delete": True}, "status"),
    ({"order_ids": ["a"], "status": "Shipped"}, "status"),
    ({"order_ids": [], "status": "Active"}, "order_ids"),
])
def test_bad_bulk_requests_are_400(api, bulk_queue, body, field):  # noqa: F811
    r = api.post("/orders/bulk", body)
    assert r.status_code == 400, r.data
    assert field in r.data["error"]["fields"]


def test_bulk_needs_admin_and_unknown_job_is_404(api, bulk_queue):  # noqa: F811
    assert api.post("/orders/bulk", {"order_ids": ["a"], "status": "Active"}, role="billing").status_code == 403
    assert api.get("/bulk-jobs/nosuchjob", role="viewer").status_code == 404


def test_orders_that_could_not_be_queued_fail_with_the_reason(api, bulk_queue, monkeypatch):  # noqa: F811
    # GIVEN 600 ids (three messages) and SQS taking the first two but never the third
    from orderdesk.adapters import aws

    sqs = aws.client("sqs")
    real = sqs.send_message_batch

    def send(QueueUrl, Entries):  # type: ignore[no-untyped-def]  # noqa: N803 - boto3's names
        taken = [e for e in Entries if e["Id"] != "2"]
        resp = real(QueueUrl=QueueUrl, Entries=taken) if taken else {"Successful": []}
        refused = [{"Id": "2", "SenderFault": False, "Code": "ServiceUnavailable", "Message": "try later"}]
        return {**resp, "Failed": refused if len(taken) < len(Entries) else []}

    monkeypatch.setattr(sqs, "send_message_batch", send)
    ids = [f"missing{i:04d}" for i in range(600)]
    # WHEN an admin submits them
    r = api.post("/orders/bulk", {"order_ids": ids, "status": "Cancelled"})
    # THEN the caller is told which job and why (a 503: SQS is worth retrying), the queued ones are
    # worked off, the rest failed
    assert r.status_code == 503 and r.headers["Retry-After"], r.data
    job_id = r.data["error"]["message"].split(":")[0].removeprefix("bulk job ")
    _poller(bulk_queue).drain()
    job = api.get(f"/bulk-jobs/{job_id}").data
    assert (job["status"], job["succeeded"], job["failed"]) == ("DONE", 0, 600)
    reasons = {f["order_id"]: f["error"] for f in job["failures"]}
    assert {reasons[i] for i in ids[:500]} == {"unknown order"}
    assert all(reasons[i].startswith("not queued:") and "try later" in reasons[i] for i in ids[500:])
