"""A bulk message settled as a whole (one transaction) and the order-by-order path meeting on the
same message: whichever settles an order, it is counted once."""

from __future__ import annotations

import threading

import pytest

from orderdesk.adapters.repository import get_repository
from orderdesk.domain.statuses import OrderStatus
from orderdesk.services import bulk
from tests.integration.events_support import bulk_queue, moto, seed  # noqa: F401

pytestmark = pytest.mark.timeout(120)


def _job(api, orders, status: str = "Cancelled") -> tuple[str, dict]:  # type: ignore[no-untyped-def]
    job_id = api.post("/orders/bulk", {"order_ids": [o.id for o in orders], "status": status}).data["job"]["id"]
    body = {"job_id": job_id, "target": status, "actor": "admin", "order_ids": [o.id for o in orders]}
    return job_id, body


def test_a_whole_message_then_its_last_try_counts_once(api, bulk_queue):  # noqa: F811
    # GIVEN a message of 10 Pending orders settled whole on its first delivery
    _, orders = seed(10, [OrderStatus.PENDING])
    job_id, body = _job(api, orders)
    bulk.process_message(body, receive_count=1)
    # WHEN it is delivered again as its last try (which goes order by order)
    bulk.process_message(body, receive_count=3)
    # THEN nothing is counted twice and each order changed once
    job = api.get(f"/bulk-jobs/{job_id}").data
    assert (job["status"], job["succeeded"], job["failed"]) == ("DONE", 10, 0)
    repo = get_repository()
    for order in orders:
        assert [h.action for h in repo.get_order(order.id).history].count("bulk status change") == 1


def test_whole_and_order_by_order_deliveries_racing_count_once(api, bulk_queue):  # noqa: F811
    # GIVEN a message of 10 orders, 2 of them unknown to the store
    _, orders = seed(8, [OrderStatus.PENDING])
    job_id, body = _job(api, orders)
    body["order_ids"] = body["order_ids"] + ["nosuchorder00001", "nosuchorder00002"]
    repo = get_repository()
    repo.get_bulk_job(job_id)
    # (the job was created for 8: make its total the message's 10)
    from orderdesk.adapters import models as m

    m.BulkJobRecord(pk=f"BULKJOB#{job_id}", sk="JOB").update(actions=[m.BulkJobRecord.total.set(10)])
    errors: list[BaseException] = []

    def run(receive_count: int) -> None:
        try:
            bulk.process_message(dict(body), receive_count=receive_count)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    # WHEN one delivery goes whole while another goes order by order (its last try), at once
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
    counts = {x["status"]: x["count"] for x in api.get("/order-statuses").data}
    assert counts["Cancelled"] == 8 and counts["Pending"] == 0
