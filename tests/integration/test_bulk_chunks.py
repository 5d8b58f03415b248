"""How a bulk status change stays exact when SQS delivers a message more than once: each order's
decision (moved, or refused and why) is recorded on the order with the move, and the first one
stands; the moves' history records are written under keys their decisions recorded; each message is
counted once, by its number on the job; the job is closed once. The status counters follow from
the table's stream."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from orderdesk.adapters.store import keys
from orderdesk.adapters.store import records as r
from orderdesk.adapters.store.bulk_jobs import BulkJobs
from orderdesk.domain.model import HistoryEntry, iso, utcnow
from orderdesk.domain.statuses import OrderStatus
from orderdesk.services import bulk
from orderdesk.services.ports import stores
from tests.integration.events_support import bulk_queue, lock, moto, seed  # noqa: F401

pytestmark = pytest.mark.timeout(300)  # a hang guard, not a speed test: a busy 2-core machine took over 120 s


def _job(api, orders, status: str = "Cancelled") -> tuple[str, dict]:  # type: ignore[no-untyped-def]
    job_id = api.post("/orders/bulk", {"order_ids": [o.id for o in orders], "status": status}).data["job"]["id"]
    body = {"job_id": job_id, "target": status, "actor": "admin", "chunk": 0, "order_ids": [o.id for o in orders]}
    return job_id, body


def _unlock(order_id: str) -> None:
    """The order's lock gone, as when its action ends."""
    r.OrderRecord(pk=keys.order_pk(order_id), sk=keys.ORDER_SK, version=0).update(
        actions=[r.OrderRecord.pending_action.remove(), r.OrderRecord.gsi4pk.remove(), r.OrderRecord.gsi4sk.remove()],
        add_version_condition=False)


def _counts(api, order_stream) -> dict[str, int]:  # type: ignore[no-untyped-def]
    order_stream.settle()
    return {x["status"]: x["count"] for x in api.get("/order-statuses").data}


def test_a_counted_message_delivered_again_changes_nothing(api, bulk_queue, order_stream):  # noqa: F811
    # GIVEN a message of 10 Pending orders, one of them locked by a running action, counted once
    _, orders = seed(10, [OrderStatus.PENDING])
    repo = stores()
    lock(repo, orders[0])
    job_id, body = _job(api, orders)
    bulk.process_message(body, receive_count=1)
    # AND the action then ends, so the refused order could move now
    _unlock(orders[0].id)
    # WHEN the same message is delivered again, even as its last try
    bulk.process_message(body, receive_count=3)
    # THEN nothing is counted twice, the refused order stays where it was, each moved order once
    job = api.get(f"/bulk-jobs/{job_id}").data
    assert (job["status"], job["succeeded"], job["failed"]) == ("DONE", 9, 1)
    assert job["failures"] == [{"order_id": orders[0].id, "error": "action in progress"}]
    assert repo.orders.get_order_header(orders[0].id).status is OrderStatus.PENDING
    order_stream.settle()  # the moves' history entries follow from the stream
    for o in orders[1:]:
        assert [h.action for h in repo.orders.get_order(o.id).history].count("bulk status change") == 1
    assert _counts(api, order_stream)["Cancelled"] == 9


def test_a_refusal_stands_when_the_message_comes_back_uncounted(api, bulk_queue, monkeypatch, order_stream):  # noqa: F811
    # GIVEN a message of 5 orders whose first delivery decided every order (one refused: locked)
    # but died before counting
    _, orders = seed(5, [OrderStatus.PENDING])
    repo = stores()
    lock(repo, orders[0])
    job_id, body = _job(api, orders, "Active")

    def die(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("died before counting")

    real = BulkJobs.count_chunk
    monkeypatch.setattr(BulkJobs, "count_chunk", die)
    with pytest.raises(RuntimeError):
        bulk.process_message(body, receive_count=1)
    monkeypatch.setattr(BulkJobs, "count_chunk", real)
    assert api.get(f"/bulk-jobs/{job_id}").data["status"] == "QUEUED"
    # AND the lock is gone by the time it comes back
    _unlock(orders[0].id)
    # WHEN it is delivered again
    bulk.process_message(body, receive_count=2)
    # THEN the first decisions are the ones counted: four moved, one refused, once
    job = api.get(f"/bulk-jobs/{job_id}").data
    assert (job["status"], job["succeeded"], job["failed"]) == ("DONE", 4, 1)
    assert job["failures"] == [{"order_id": orders[0].id, "error": "action in progress"}]
    assert repo.orders.get_order_header(orders[0].id).status is OrderStatus.PENDING
    assert _counts(api, order_stream)["Active"] == 4 and _counts(api, order_stream)["Pending"] == 1


def test_a_normal_and_a_last_try_delivery_racing_count_once(api, bulk_queue, order_stream):  # noqa: F811
    # GIVEN a message of 10 orders, 2 of them unknown to the store
    _, orders = seed(8, [OrderStatus.PENDING])
    job_id, body = _job(api, orders)
    body["order_ids"] = body["order_ids"] + ["nosuchorder00001", "nosuchorder00002"]
    # (the job was created for 8: make its total the message's 10)
    r.BulkJobRecord(pk=keys.bulk_job_pk(job_id), sk=keys.JOB_SK).update(actions=[r.BulkJobRecord.total.set(10)])
    errors: list[BaseException] = []

    def run(receive_count: int) -> None:
        try:
            bulk.process_message(dict(body), receive_count=receive_count)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    # WHEN two deliveries run at once, one of them its last try
    threads = [threading.Thread(target=run, args=(n,)) for n in (1, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # THEN every order is counted exactly once, the unknown ones as failures with their reason
    assert not errors
    job = api.get(f"/bulk-jobs/{job_id}").data
    assert (job["status"], job["succeeded"], job["failed"]) == ("DONE", 8, 2)
    assert sorted(f["error"] for f in job["failures"]) == ["unknown order", "unknown order"]
    assert _counts(api, order_stream)["Cancelled"] == 8 and _counts(api, order_stream)["Pending"] == 0


def test_history_of_a_move_follows_from_the_stream_once_whatever_is_delivered_again(api, bulk_queue,  # noqa: F811
                                                                                   order_stream, table):
    from tests.conftest import OrderStream

    # GIVEN a message of 3 Pending orders delivered twice (as SQS may)
    _, orders = seed(3, [OrderStatus.PENDING])
    job_id, body = _job(api, orders)
    bulk.process_message(body)
    bulk.process_message(body, receive_count=2)
    # THEN the orders moved, their history entries not written by the consumer but by the stream
    assert all(stores().orders.get_order_header(o.id).status is OrderStatus.CANCELLED for o in orders)
    assert all("bulk status change" not in [h.action for h in stores().orders.get_order(o.id).history]
               for o in orders)
    # WHEN the stream is read, and read again from its start (a redelivery of every record)
    order_stream.settle()
    OrderStream(table).settle()
    # THEN each move has exactly one history entry, from → to, by the job's actor, naming the job
    for o in orders:
        moves = [h for h in stores().orders.get_order(o.id).history if h.action == "bulk status change"]
        assert [(h.from_, h.to, h.actor, h.detail) for h in moves] == [
            ("Pending", "Cancelled", "admin", f"bulk job {job_id}")]
    job = api.get(f"/bulk-jobs/{job_id}").data
    assert (job["status"], job["succeeded"], job["failed"]) == ("DONE", 3, 0)
    assert _counts(api, order_stream)["Cancelled"] == 3


def test_bulk_history_sits_in_time_order_with_the_orders_own(api, bulk_queue, order_stream):  # noqa: F811
    # GIVEN an order moved by a bulk job, then given a note-worthy history entry of its own
    _, orders = seed(1, [OrderStatus.PENDING])
    job_id, body = _job(api, orders, "Active")
    bulk.process_message(body)
    order_stream.settle()  # the move's history entry follows from the stream
    repo = stores()
    later = HistoryEntry(at=iso(utcnow()), actor="admin", action="note added", from_=None, to=None)
    repo.writes.add_history(orders[0].id, later)
    # WHEN its detail is read
    detail = api.get(f"/orders/{orders[0].id}").data
    # THEN the bulk change is in its history, between the placing and the later entry
    actions = [h["action"] for h in detail["history"]]
    assert actions == ["order placed", "bulk status change", "note added"]
    entry = detail["history"][1]
    assert (entry["from"], entry["to"], entry["actor"], entry["detail"]) == ("Pending", "Active", "admin",
                                                                           f"bulk job {job_id}")


def test_a_job_whose_close_died_is_closed_by_the_redelivery(api, bulk_queue, monkeypatch, order_stream):  # noqa: F811
    # GIVEN a one-message job whose delivery counted the message, then died closing the job
    _, orders = seed(3, [OrderStatus.PENDING])
    job_id, body = _job(api, orders, "Fraud")

    def die(self, rec):  # type: ignore[no-untyped-def]
        raise RuntimeError("died closing the job")

    real = BulkJobs._close
    monkeypatch.setattr(BulkJobs, "_close", die)
    with pytest.raises(RuntimeError):
        bulk.process_message(body)
    monkeypatch.setattr(BulkJobs, "_close", real)
    assert api.get(f"/bulk-jobs/{job_id}").data["succeeded"] == 3
    # WHEN the message is delivered again
    bulk.process_message(body, receive_count=2)
    # THEN the job is closed once: DONE, and the status counters moved by its three orders
    job = api.get(f"/bulk-jobs/{job_id}").data
    assert (job["status"], job["succeeded"], job["failed"]) == ("DONE", 3, 0)
    assert r.BulkJobRecord.get(keys.bulk_job_pk(job_id), keys.JOB_SK).status == "DONE"
    assert _counts(api, order_stream)["Fraud"] == 3 and _counts(api, order_stream)["Pending"] == 0
    bulk.process_message(body, receive_count=3)
    assert _counts(api, order_stream)["Fraud"] == 3


def test_a_bulk_delete_failing_on_its_last_receive_after_its_claim_is_counted_failed(api, bulk_queue, monkeypatch):  # noqa: F811
    # GIVEN a bulk delete of one Cancelled order whose delete dies after the claim, every time
    from orderdesk.services import actions

    _, orders = seed(1, [OrderStatus.CANCELLED])
    job_id = api.post("/orders/bulk", {"order_ids": [orders[0].id], "delete": True}).data["job"]["id"]
    body = {"job_id": job_id, "target": "delete", "actor": "admin", "chunk": 0, "order_ids": [orders[0].id]}

    def dies(order_id: str, actor: str) -> None:
        raise RuntimeError("the store went away mid-delete")

    monkeypatch.setattr(actions, "delete_order", dies)
    # WHEN the message is delivered three times (the queue's last receive before the DLQ)
    for receive in (1, 2, 3):
        with pytest.raises(RuntimeError):
            bulk.process_message(body, receive_count=receive)
    # THEN the claimed order is counted failed with why, and the job ends DONE
    job = api.get(f"/bulk-jobs/{job_id}").data
    assert (job["status"], job["succeeded"], job["failed"]) == ("DONE", 0, 1), job
    assert job["failures"] == [{"order_id": orders[0].id, "error": "internal error: the store went away mid-delete"}]


def test_a_job_with_no_progress_for_15_minutes_is_finished_by_the_sweep(api, bulk_queue, monkeypatch,  # noqa: F811
                                                                        order_stream):
    import time_machine

    from orderdesk.domain.model import utcnow
    from orderdesk.services import cleanup

    # GIVEN a job of 30 Pending orders in messages of 25 (two messages) whose first message moved
    # its orders but died before counting, and whose second was never delivered
    monkeypatch.setattr(bulk, "CHUNK", 25)
    _, orders = seed(30, [OrderStatus.PENDING])
    job_id, body = _job(api, orders)
    first = {**body, "order_ids": body["order_ids"][:25]}

    def die(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("died before counting")

    real = BulkJobs.count_chunk
    monkeypatch.setattr(BulkJobs, "count_chunk", die)
    with pytest.raises(RuntimeError):
        bulk.process_message(first)
    monkeypatch.setattr(BulkJobs, "count_chunk", real)
    # WHEN the sweep runs before 15 minutes, then after
    assert job_id not in cleanup.run("finish_stale_jobs").changed
    with time_machine.travel(utcnow() + timedelta(minutes=16), tick=True):
        report = cleanup.run("finish_stale_jobs")
    # THEN the job is DONE with exact counters: the moved orders counted moved, the rest failed
    # with the reason, and a late delivery of the lost message moves nothing
    assert report.changed == [job_id]
    job = api.get(f"/bulk-jobs/{job_id}").data
    assert (job["status"], job["succeeded"], job["failed"]) == ("DONE", 25, 5), job
    assert {f["error"] for f in job["failures"]} == {"not processed: the job made no progress for 15 minutes"}
    late = {**body, "chunk": 1, "order_ids": body["order_ids"][25:]}
    bulk.process_message(late)
    assert all(stores().orders.get_order_header(o.id).status is OrderStatus.PENDING for o in orders[25:])
    assert _counts(api, order_stream)["Cancelled"] == 25
    assert cleanup.run("finish_stale_jobs").examined == 0  # no job left open
