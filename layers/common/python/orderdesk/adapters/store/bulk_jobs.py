"""Bulk jobs: the job record with its counters, and an outcome record per order it refused or
(for a delete) claimed. A status-change message is counted once by one conditional UpdateItem of
the job (its number goes into `chunks`); a delete is claimed, done, then counted."""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action

from ...domain.errors import ConcurrentUpdate, NotFound
from ...domain.model import BulkDecision, BulkFailure, BulkJob, iso, utcnow
from . import keys
from . import records as r
from .table import condition_failed, conflicted, transaction, translated

RUNNING, DONE = "RUNNING", "DONE"


@translated
class BulkJobs:
    def __init__(self, ttl_days: int) -> None:
        self.ttl_days = ttl_days

    def _ttl(self) -> datetime:
        return utcnow() + timedelta(days=self.ttl_days)

    def create_bulk_job(self, job: BulkJob) -> None:
        rec = r.BulkJobRecord(
            pk=keys.bulk_job_pk(job.id), sk=keys.JOB_SK, id=job.id, status=job.status, target=job.target,
            total=job.total, succeeded=0, failed=0, created_at=job.created_at, actor=job.actor, ttl=self._ttl(),
            order_ids=job.order_ids, chunk_size=job.chunk_size, updated_at=job.created_at,
            gsi4pk=keys.OPEN_BULK_JOBS, gsi4sk=keys.lock_sort_key(job.created_at, job.id),
        )
        try:
            rec.save(condition=r.BulkJobRecord.pk.does_not_exist())
        except PutError as exc:
            if condition_failed(exc):
                raise ConcurrentUpdate(f"bulk job {job.id} already exists") from exc
            raise

    def open_jobs(self) -> list[BulkJob]:
        """The jobs not yet DONE (a sparse index entry each), with their orders and progress."""
        return [_job_from(rec, []) for rec in r.BulkJobRecord.query(keys.OPEN_BULK_JOBS, index_name=keys.BY_TYPE)]

    def get_bulk_job(self, job_id: str) -> BulkJob:
        """The job and its failures in one Query of the job's partition."""
        job: r.BulkJobRecord | None = None
        failures: list[BulkFailure] = []
        counted_failure = (r.BulkOutcomeRecord.ok == False) & r.BulkOutcomeRecord.deleting.does_not_exist()  # noqa: E712
        for rec in r.Record.query(keys.bulk_job_pk(job_id), consistent_read=True,
                                  filter_condition=r.BulkJobRecord.total.exists() | counted_failure):
            if isinstance(rec, r.BulkJobRecord):
                job = rec
            elif isinstance(rec, r.BulkOutcomeRecord):
                failures.append(BulkFailure(order_id=rec.order_id, error=rec.error or "failed"))
        if job is None:
            raise NotFound(f"bulk job {job_id} not found")
        return _job_from(job, failures)

    # -- status changes: a count per message -----------------------------------------------------

    def chunk_counted(self, job_id: str, chunk: int) -> bool:
        """Whether the job counted its message `chunk` already (strongly consistent)."""
        try:
            rec = r.BulkJobRecord.get(keys.bulk_job_pk(job_id), keys.JOB_SK, consistent_read=True,
                                      attributes_to_get=[r.Record.kind.attr_name, r.BulkJobRecord.chunks.attr_name])
        except DoesNotExist as exc:
            raise NotFound(f"bulk job {job_id} not found") from exc
        return chunk in (rec.chunks or set())

    def count_chunk(self, job_id: str, chunk: int, decisions: list[tuple[str, BulkDecision]]) -> bool:
        """Count one message of a job: the refused orders' outcome records (idempotent puts, so
        the job lists them), then one conditional UpdateItem of the job adding the message's
        counts and its number, so a message counted already changes nothing. The last message
        closes the job. False when the message was counted already."""
        refused = [(order_id, d) for order_id, d in decisions if not d.moved]
        if refused:
            with r.BulkOutcomeRecord.batch_write() as batch:
                for order_id, d in refused:
                    batch.save(self._outcome(job_id, order_id, ok=False, error=d.error))
        moved = len(decisions) - len(refused)
        actions: list[Action] = [r.BulkJobRecord.status.set(RUNNING), r.BulkJobRecord.chunks.add({chunk}),
                                 r.BulkJobRecord.updated_at.set(iso(utcnow()))]
        if moved:
            actions.append(r.BulkJobRecord.succeeded.add(moved))
        if refused:
            actions.append(r.BulkJobRecord.failed.add(len(refused)))
        rec = r.BulkJobRecord(pk=keys.bulk_job_pk(job_id), sk=keys.JOB_SK)
        try:
            rec.update(actions=actions, condition=r.BulkJobRecord.pk.exists() & ~r.BulkJobRecord.chunks.contains(chunk))
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
            self.finish_bulk_job(job_id)  # counted before: the job's end may be what is left to do
            return False
        self._close(rec)
        return True

    # -- deletes: claimed, done, counted ---------------------------------------------------------

    def outcome(self, job_id: str, order_id: str) -> str | None:
        """An order of a bulk delete: None (not yet counted), "ok", "failed", or "deleting" (a
        delete begun, not yet counted)."""
        try:
            rec = r.BulkOutcomeRecord.get(keys.bulk_job_pk(job_id), keys.outcome_sk(order_id), consistent_read=True)
        except DoesNotExist:
            return None
        if rec.deleting:
            return "deleting"
        return "ok" if rec.ok else "failed"

    def claim_delete(self, job_id: str, order_id: str) -> bool:
        """Mark a bulk delete of one order as begun; False when the order already has an outcome."""
        rec = self._outcome(job_id, order_id, ok=False)
        rec.deleting = True
        try:
            rec.save(condition=r.BulkOutcomeRecord.pk.does_not_exist())
        except PutError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def record_outcome(self, job_id: str, order_id: str, ok: bool, error: str | None = None, *,
                       claimed: bool = False) -> bool:
        """Count one order's outcome: written only if none exists (or, `claimed`, only over the
        claim of a delete), with the job counter it moves, at once; False when already counted."""
        pk = keys.bulk_job_pk(job_id)
        try:
            with transaction() as tx:
                if claimed:
                    tx.update(r.BulkOutcomeRecord(pk=pk, sk=keys.outcome_sk(order_id)),
                              actions=[r.BulkOutcomeRecord.ok.set(ok), r.BulkOutcomeRecord.deleting.remove(),
                                       r.BulkOutcomeRecord.error.set(error) if error
                                       else r.BulkOutcomeRecord.error.remove()],
                              condition=r.BulkOutcomeRecord.deleting == True)  # noqa: E712
                else:
                    tx.save(self._outcome(job_id, order_id, ok=ok, error=error),
                            condition=r.BulkOutcomeRecord.pk.does_not_exist())
                counter = r.BulkJobRecord.succeeded if ok else r.BulkJobRecord.failed
                tx.update(r.BulkJobRecord(pk=pk, sk=keys.JOB_SK), actions=[counter.add(1),
                          r.BulkJobRecord.status.set(RUNNING), r.BulkJobRecord.updated_at.set(iso(utcnow()))],
                          condition=r.BulkJobRecord.pk.exists())
        except TransactWriteError as exc:
            if condition_failed(exc):
                return False
            if conflicted(exc):
                raise ConcurrentUpdate(f"bulk job {job_id} is busy; try again") from exc
            raise
        return True

    def finish_bulk_job(self, job_id: str) -> bool:
        """Close the job if every order is counted; True when it is done."""
        try:
            rec = r.BulkJobRecord.get(keys.bulk_job_pk(job_id), keys.JOB_SK, consistent_read=True)
        except DoesNotExist as exc:
            raise NotFound(f"bulk job {job_id} not found") from exc
        return self._close(rec)

    def _close(self, rec: r.BulkJobRecord) -> bool:
        if int(rec.succeeded or 0) + int(rec.failed or 0) < int(rec.total):
            return False
        if rec.status != DONE:
            try:
                rec.update(actions=[r.BulkJobRecord.status.set(DONE), r.BulkJobRecord.finished_at.set(iso(utcnow())),
                                    r.BulkJobRecord.gsi4pk.remove(), r.BulkJobRecord.gsi4sk.remove()],
                           condition=r.BulkJobRecord.status != DONE)
            except UpdateError as exc:
                if not condition_failed(exc):
                    raise  # closed meanwhile by a concurrent delivery: done either way
        return True

    def _outcome(self, job_id: str, order_id: str, *, ok: bool, error: str | None = None) -> r.BulkOutcomeRecord:
        return r.BulkOutcomeRecord(pk=keys.bulk_job_pk(job_id), sk=keys.outcome_sk(order_id), order_id=order_id,
                                   ok=ok, error=error, ttl=self._ttl())


def _job_from(rec: r.BulkJobRecord, failures: list[BulkFailure]) -> BulkJob:
    succeeded, failed, total = int(rec.succeeded or 0), int(rec.failed or 0), int(rec.total)
    return BulkJob(id=rec.id, target=rec.target, total=total, succeeded=succeeded, failed=failed,
                   status=DONE if succeeded + failed >= total else rec.status, created_at=rec.created_at,
                   actor=rec.actor, failures=failures, order_ids=list(rec.order_ids or []),
                   chunk_size=int(rec.chunk_size or 0), counted_chunks={int(c) for c in rec.chunks or ()},
                   updated_at=rec.updated_at or rec.created_at)
