"""Bulk jobs in memory (`BulkJobStore`), with the semantics of `adapters.store.bulk_jobs`: a
status-change message counted once (its number kept with the counts), a delete claimed, done, then
counted once, the job DONE once every order is counted."""

from __future__ import annotations

from dataclasses import replace

from orderdesk.domain.errors import ConcurrentUpdate, NotFound
from orderdesk.domain.model import BulkDecision, BulkFailure, BulkJob, iso, utcnow

from .state import JobRecord, MemoryState, Outcome

RUNNING, DONE = "RUNNING", "DONE"


class MemoryBulkJobs:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    def create_bulk_job(self, job: BulkJob) -> None:
        with self.s.lock:
            if job.id in self.s.jobs:
                raise ConcurrentUpdate(f"bulk job {job.id} exists")
            self.s.jobs[job.id] = JobRecord(job=replace(job, succeeded=0, failed=0, failures=[],
                                                        updated_at=job.created_at))

    def open_jobs(self) -> list[BulkJob]:
        """The jobs not yet DONE, oldest first, with their orders and progress."""
        with self.s.lock:
            return [replace(r.job, counted_chunks=set(r.chunks), failures=[])
                    for r in sorted(self.s.jobs.values(), key=lambda r: (r.job.created_at, r.job.id))
                    if r.job.status != DONE]

    def get_bulk_job(self, job_id: str) -> BulkJob:
        with self.s.lock:
            job = self._job(job_id).job
            failures = [BulkFailure(order_id=order_id, error=o.error or "failed")
                        for (jid, order_id), o in sorted(self.s.outcomes.items())
                        if jid == job_id and not o.ok and not o.deleting]
            done = job.succeeded + job.failed >= job.total
            return replace(job, status=DONE if done else job.status, failures=failures)

    def chunk_counted(self, job_id: str, chunk: int) -> bool:
        with self.s.lock:
            return chunk in self._job(job_id).chunks

    def count_chunk(self, job_id: str, chunk: int, decisions: list[tuple[str, BulkDecision]]) -> bool:
        """The refused orders' outcomes (written again harmlessly), then the message's counts
        once; the last message closes the job. False when it was counted already."""
        with self.s.lock:
            refused = [(order_id, d) for order_id, d in decisions if not d.moved]
            for order_id, d in refused:
                self.s.outcomes[(job_id, order_id)] = Outcome(ok=False, error=d.error)
            record = self.s.jobs.get(job_id)
            if record is None or chunk in record.chunks:
                self.finish_bulk_job(job_id)  # NotFound for an unknown job
                return False
            record.chunks.add(chunk)
            record.job.status, record.job.updated_at = RUNNING, iso(utcnow())
            record.job.succeeded += len(decisions) - len(refused)
            record.job.failed += len(refused)
            self._close(record)
            return True

    def outcome(self, job_id: str, order_id: str) -> str | None:
        with self.s.lock:
            found = self.s.outcomes.get((job_id, order_id))
            if found is None:
                return None
            if found.deleting:
                return "deleting"
            return "ok" if found.ok else "failed"

    def claim_delete(self, job_id: str, order_id: str) -> bool:
        with self.s.lock:
            if (job_id, order_id) in self.s.outcomes:
                return False
            self.s.outcomes[(job_id, order_id)] = Outcome(ok=False, deleting=True)
            return True

    def record_outcome(self, job_id: str, order_id: str, ok: bool, error: str | None = None, *,
                       claimed: bool = False) -> bool:
        """Only if the order has no outcome yet (`claimed`: only over the claim of a delete), with
        the job's counter, at once."""
        with self.s.lock:
            found = self.s.outcomes.get((job_id, order_id))
            record = self.s.jobs.get(job_id)
            holds = (found is not None and found.deleting) if claimed else found is None
            if record is None or not holds:
                return False
            self.s.outcomes[(job_id, order_id)] = Outcome(ok=ok, error=error or None)
            if ok:
                record.job.succeeded += 1
            else:
                record.job.failed += 1
            record.job.status, record.job.updated_at = RUNNING, iso(utcnow())
            return True

    def finish_bulk_job(self, job_id: str) -> bool:
        with self.s.lock:
            return self._close(self._job(job_id))

    def _close(self, record: JobRecord) -> bool:
        job = record.job
        if job.succeeded + job.failed < job.total:
            return False
        if job.status != DONE:
            job.status, record.finished_at = DONE, iso(utcnow())
        return True

    def _job(self, job_id: str) -> JobRecord:
        if job_id not in self.s.jobs:
            raise NotFound(f"bulk job {job_id} not found")
        return self.s.jobs[job_id]
