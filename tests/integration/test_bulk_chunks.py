"""How a bulk status change stays exact when SQS delivers a message more than once: each order's
decision (moved, or refused and why) is recorded on the order with the move, and the first one
stands; each message is counted once, by its number on the job; the job is closed (and its net
change added to the status counters) once."""

from __future__ import annotations

import threading

import pytest

from orderdesk.adapters import models as m
from orderdesk.adapters.repository import ORDER_SK, get_repository, order_pk
from orderdesk.domain.model import HistoryEntry, iso, utcnow
from orderdesk.domain.statuses import OrderStatus
from orderdesk.services import bulk
from tests.integration.events_support import bulk_queue, lock, moto, seed  # noqa: F401

pytestmark = pytest.mark.timeout(120)


def _job(api, orders, status: str = "Cancelled") -> tuple[str, dict]:  # type: ignore[no-untyped-def]
    job_id = api.post("/orders/bulk", {"order_ids": [o.id for o in orders], "status": status}).data["job"]["id"]
    body = {"job_id": job_id, "target": status, "actor": "admin", "chunk": 0, "order_ids": [o.id for o in orders]}
    return job_id, body


def _unlock(order_id: str) -> None:
    """The order's lock gone, as when its action ends."""
    m.OrderRecord(pk=order_pk(order_id), sk=ORDER_SK).update(
        actions=[m.OrderRecord.pending_action.remove(), m.OrderRecord.gsi4pk.remove(), m.OrderRecord.gsi4sk.remove()],
        add_version_condition=False)


def _counts(api) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {x["status"]: x["count"] for x in api.get("/order-statuses").data}


def test_a_counted_message_delivered_again_changes_nothing(api, bulk_queue):  # noqa: F811
    # GIVEN a message of 10 Pending orders, one of them locked by a running action, counted once
    _, orders = seed(10, [OrderStatus.PENDING])
    repo = get_repository()
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
    assert repo.get_order_header(orders[0].id).status is OrderStatus.PENDING
    for o in orders[1:]:
        assert [h.action for h in repo.get_order(o.id).history].count("bulk status change") == 1
    assert _counts(api)["Cancelled"] == 9


def test_a_refusal_stands_when_the_message_comes_back_uncounted(api, bulk_queue, monkeypatch):  # noqa: F811
    # GIVEN a message of 5 orders whose first delivery decided every order (one refused: locked)
    # but died before counting
    _, orders = seed(5, [OrderStatus.PENDING])
    repo = get_repository()
    lock(repo, orders[0])
    job_id, body = _job(api, orders, "Active")

    def die(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("died before counting")

    real = type(repo).count_bulk_chunk
    monkeypatch.setattr(type(repo), "count_bulk_chunk", die)
    with pytest.raises(RuntimeError):
        bulk.process_message(body, receive_count=1)
    monkeypatch.setattr(type(repo), "count_bulk_chunk", real)
    assert api.get(f"/bulk-jobs/{job_id}").data["status"] == "QUEUED"
    # AND the lock is gone by the time it comes back
    _unlock(orders[0].id)
    # WHEN it is delivered again
    bulk.process_message(body, receive_count=2)
    # THEN the first decisions are the ones counted: four moved, one refused, once
    job = api.get(f"/bulk-jobs/{job_id}").data
    assert (job["status"], job["succeeded"], job["failed"]) == ("DONE", 4, 1)
    assert job["failures"] == [{"order_id": orders[0].id, "error": "action in progress"}]
    assert repo.get_order_header(orders[0].id).status is OrderStatus.PENDING
    assert _counts(api)["Active"] == 4 and _counts(api)["Pending"] == 1


def test_a_normal_and_a_last_try_delivery_racing_count_once(api, bulk_queue):  # noqa: F811
    # GIVEN a message of 10 orders, 2 of them unknown to the store
    _, orders = seed(8, [OrderStatus.PENDING])
    job_id, body = _job(api, orders)
    body["order_ids"] = body["order_ids"] + ["nosuchorder00001", "nosuchorder00002"]
    # (the job was created for 8: make its total the message's 10)
    m.BulkJobRecord(pk=f"BULKJOB#{job_id}", sk="JOB").update(actions=[m.BulkJobRecord.total.set(10)])
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
    assert _counts(api)["Cancelled"] == 8 and _counts(api)["Pending"] == 0


def test_an_order_stored_before_orders_carried_the_decision_map_still_moves(api, bulk_queue):  # noqa: F811
    # GIVEN a Pending order whose record has no `bulk` map (written before it existed)
    _, orders = seed(2, [OrderStatus.PENDING])
    m.OrderRecord(pk=order_pk(orders[0].id), sk=ORDER_SK).update(actions=[m.OrderRecord.bulk.remove()],
                                                                 add_version_condition=False)
    job_id, body = _job(api, orders)
    # WHEN the job runs, twice
    bulk.process_message(body)
    bulk.process_message(body)
    # THEN both orders moved once and were counted once
    job = api.get(f"/bulk-jobs/{job_id}").data
    assert (job["succeeded"], job["failed"]) == (2, 0)
    repo = get_repository()
    for o in orders:
        assert repo.get_order_header(o.id).status is OrderStatus.CANCELLED


def test_bulk_history_merges_in_time_order_with_the_orders_own(api, bulk_queue):  # noqa: F811
    # GIVEN an order moved by a bulk job, then given a note-worthy history entry of its own
    _, orders = seed(1, [OrderStatus.PENDING])
    job_id, body = _job(api, orders, "Active")
    bulk.process_message(body)
    repo = get_repository()
    later = HistoryEntry(at=iso(utcnow()), actor="admin", action="note added", from_=None, to=None)
    repo.add_history(orders[0].id, later)
    # WHEN its detail is read
    detail = api.get(f"/orders/{orders[0].id}").data
    # THEN the bulk change is in its history, between the placing and the later entry
    actions = [h["action"] for h in detail["history"]]
    assert actions == ["order placed", "bulk status change", "note added"]
    entry = detail["history"][1]
    assert (entry["from"], entry["to"], entry["actor"], entry["detail"]) == ("Pending", "Active", "admin",
                                                                           f"bulk job {job_id}")


def test_a_job_whose_close_died_is_closed_by_the_redelivery(api, bulk_queue, monkeypatch):  # noqa: F811
    # GIVEN a one-message job whose delivery counted the message, then died closing the job
    _, orders = seed(3, [OrderStatus.PENDING])
    job_id, body = _job(api, orders, "Fraud")
    repo = get_repository()

    def die(self, rec):  # type: ignore[no-untyped-def]
        raise RuntimeError("died closing the job")

    real = type(repo)._close_bulk_job
    monkeypatch.setattr(type(repo), "_close_bulk_job", die)
    with pytest.raises(RuntimeError):
        bulk.process_message(body)
    monkeypatch.setattr(type(repo), "_close_bulk_job", real)
    assert _counts(api)["Fraud"] == 0
    # WHEN the message is delivered again
    bulk.process_message(body, receive_count=2)
    # THEN the job is closed once: DONE, and the status counters moved by its three orders
    job = api.get(f"/bulk-jobs/{job_id}").data
    assert (job["status"], job["succeeded"], job["failed"]) == ("DONE", 3, 0)
    assert m.BulkJobRecord.get(f"BULKJOB#{job_id}", "JOB").status == "DONE"
    assert _counts(api)["Fraud"] == 3 and _counts(api)["Pending"] == 0
    bulk.process_message(body, receive_count=3)
    assert _counts(api)["Fraud"] == 3
