"""BulkJobStore: a job's counters move once per status-change message and once per deleted
order; the job is DONE once every order is counted, with the refused ones listed."""

from __future__ import annotations

import pytest

from orderdesk.domain.errors import NotFound
from orderdesk.domain.model import BulkDecision, BulkFailure, BulkJob
from orderdesk.services.ports import Stores
from tests.contract.builders import AT, LATER


def job(total: int, target: str = "Cancelled", job_id: str = "job-1") -> BulkJob:
    return BulkJob(id=job_id, target=target, total=total, created_at=AT, actor="tester")


def moved(order_id: str) -> tuple[str, BulkDecision]:
    return order_id, BulkDecision(at=LATER, actor="tester", from_="Pending", to="Cancelled")


def refused(order_id: str, why: str) -> tuple[str, BulkDecision]:
    return order_id, BulkDecision(at=LATER, actor="tester", error=why)


def test_a_new_job_is_queued_with_nothing_counted(stores_impl: Stores) -> None:
    # WHEN a job of three orders is created
    stores_impl.bulk_jobs.create_bulk_job(job(3))
    # THEN it reads back queued, nothing counted, no failures
    got = stores_impl.bulk_jobs.get_bulk_job("job-1")
    assert (got.id, got.target, got.total, got.status, got.succeeded, got.failed, got.failures) == (
        "job-1", "Cancelled", 3, "QUEUED", 0, 0, [])
    assert (got.created_at, got.actor) == (AT, "tester")


def test_an_unknown_job_is_not_found(stores_impl: Stores) -> None:
    # WHEN a job nobody created is read, asked about a message, or finished
    # THEN NotFound each time
    with pytest.raises(NotFound):
        stores_impl.bulk_jobs.get_bulk_job("no-such-job")
    with pytest.raises(NotFound):
        stores_impl.bulk_jobs.chunk_counted("no-such-job", 0)
    with pytest.raises(NotFound):
        stores_impl.bulk_jobs.finish_bulk_job("no-such-job")


def test_a_message_is_counted_once_and_the_last_one_closes_the_job(stores_impl: Stores) -> None:
    # GIVEN a job of four orders in two messages
    jobs = stores_impl.bulk_jobs
    jobs.create_bulk_job(job(4))
    # WHEN the first message (one moved, one refused) is counted, then counted again (a redelivery)
    first = jobs.count_chunk("job-1", 0, [moved("o1"), refused("o2", "invalid transition")])
    again = jobs.count_chunk("job-1", 0, [moved("o1"), refused("o2", "invalid transition")])
    # THEN it counts once; the job runs, the refused order listed with why
    assert (first, again) == (True, False)
    assert jobs.chunk_counted("job-1", 0) and not jobs.chunk_counted("job-1", 1)
    running = jobs.get_bulk_job("job-1")
    assert (running.status, running.succeeded, running.failed) == ("RUNNING", 1, 1)
    assert running.failures == [BulkFailure(order_id="o2", error="invalid transition")]
    # WHEN the second message is counted
    assert jobs.count_chunk("job-1", 1, [moved("o3"), moved("o4")])
    # THEN the job is DONE with exact counts
    done = jobs.get_bulk_job("job-1")
    assert (done.status, done.succeeded, done.failed) == ("DONE", 3, 1)
    assert jobs.finish_bulk_job("job-1")


def test_a_delete_is_claimed_once_then_counted_once(stores_impl: Stores) -> None:
    # GIVEN a delete job of two orders
    jobs = stores_impl.bulk_jobs
    jobs.create_bulk_job(job(2, "delete"))
    assert jobs.outcome("job-1", "o1") is None
    # WHEN the first order's delete is claimed twice
    claims = (jobs.claim_delete("job-1", "o1"), jobs.claim_delete("job-1", "o1"))
    # THEN only the first claim holds; the order is being deleted, not yet counted
    assert claims == (True, False)
    assert jobs.outcome("job-1", "o1") == "deleting"
    assert jobs.get_bulk_job("job-1").failures == []
    # WHEN its outcome is counted over the claim, twice
    counted = (jobs.record_outcome("job-1", "o1", True, claimed=True),
               jobs.record_outcome("job-1", "o1", True, claimed=True))
    # THEN once
    assert counted == (True, False)
    assert jobs.outcome("job-1", "o1") == "ok"
    assert (jobs.get_bulk_job("job-1").succeeded, jobs.finish_bulk_job("job-1")) == (1, False)


def test_an_outcome_is_recorded_once_and_listed_when_it_failed(stores_impl: Stores) -> None:
    # GIVEN a delete job of two orders
    jobs = stores_impl.bulk_jobs
    jobs.create_bulk_job(job(2, "delete"))
    # WHEN an order it could not delete is counted failed, twice, and another unclaimed one is counted over a claim
    first = jobs.record_outcome("job-1", "o1", False, "unknown order")
    second = jobs.record_outcome("job-1", "o1", False, "unknown order")
    unclaimed = jobs.record_outcome("job-1", "o2", True, claimed=True)
    # THEN the failure counts once and is listed with why; nothing counts without its claim
    assert (first, second, unclaimed) == (True, False, False)
    got = jobs.get_bulk_job("job-1")
    assert (got.succeeded, got.failed) == (0, 1)
    assert got.failures == [BulkFailure(order_id="o1", error="unknown order")]
    assert jobs.outcome("job-1", "o1") == "failed" and jobs.outcome("job-1", "o2") is None


def test_a_claimed_delete_can_end_failed_with_why(stores_impl: Stores) -> None:
    # GIVEN a delete claimed
    jobs = stores_impl.bulk_jobs
    jobs.create_bulk_job(job(1, "delete"))
    jobs.claim_delete("job-1", "o1")
    # WHEN the delete finds an action in progress and is counted failed over its claim
    assert jobs.record_outcome("job-1", "o1", False, "action in progress", claimed=True)
    # THEN it is a listed failure, and the job is complete
    assert jobs.get_bulk_job("job-1").failures == [BulkFailure(order_id="o1", error="action in progress")]
    assert jobs.finish_bulk_job("job-1") and jobs.get_bulk_job("job-1").status == "DONE"


def test_finish_marks_the_job_done_only_once_every_order_is_counted(stores_impl: Stores) -> None:
    # GIVEN a delete job of two orders, one counted
    jobs = stores_impl.bulk_jobs
    jobs.create_bulk_job(job(2, "delete"))
    jobs.record_outcome("job-1", "o1", True)
    # WHEN it is finished early
    # THEN it is not done
    assert not jobs.finish_bulk_job("job-1")
    assert jobs.get_bulk_job("job-1").status == "RUNNING"
    # WHEN the other is counted
    jobs.record_outcome("job-1", "o2", True)
    # THEN the job reads DONE already (every order counted), and finishing it, twice, says so
    assert jobs.get_bulk_job("job-1").status == "DONE"
    assert jobs.finish_bulk_job("job-1") and jobs.finish_bulk_job("job-1")
    assert jobs.get_bulk_job("job-1").status == "DONE"


def test_an_outcome_of_an_unknown_job_is_not_counted(stores_impl: Stores) -> None:
    # WHEN an outcome is recorded for a job nobody created
    # THEN nothing is counted
    assert not stores_impl.bulk_jobs.record_outcome("no-such-job", "o1", True)


def test_open_jobs_lists_the_jobs_not_done_with_their_orders_and_progress(stores_impl: Stores) -> None:
    # GIVEN two jobs of two orders each (one message each), one of them finished
    jobs = stores_impl.bulk_jobs
    for job_id in ("job-a", "job-b"):
        jobs.create_bulk_job(BulkJob(id=job_id, target="Cancelled", total=2, created_at=AT, actor="tester",
                                     order_ids=["o1", "o2"], chunk_size=250))
    jobs.count_chunk("job-b", 0, [moved("o1"), moved("o2")])
    # WHEN the open jobs are listed
    (open_job,) = jobs.open_jobs()
    # THEN only the unfinished one, with its orders, message size, nothing counted, and when it moved
    assert (open_job.id, open_job.order_ids, open_job.chunk_size, open_job.counted_chunks) == (
        "job-a", ["o1", "o2"], 250, set())
    assert open_job.updated_at == AT
    # AND once it is finished, none
    jobs.count_chunk("job-a", 0, [moved("o1"), refused("o2", "why")])
    assert jobs.open_jobs() == []


def test_a_job_id_is_taken_once(stores_impl: Stores) -> None:
    from orderdesk.domain.errors import ConcurrentUpdate

    stores_impl.bulk_jobs.create_bulk_job(job(3))
    with pytest.raises(ConcurrentUpdate):
        stores_impl.bulk_jobs.create_bulk_job(job(5))
    assert stores_impl.bulk_jobs.get_bulk_job("job-1").total == 3
