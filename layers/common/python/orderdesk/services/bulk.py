"""Bulk status changes and deletes (SPEC §2, §4): a job record, work sent over SQS in chunks, and a
consumer that moves each order as the single action with that target would — only the order's
`status` field, never a module command, a refund or an email.

A status change is decided once per order: the job's decision (moved from → to, or refused and
why) is written on the order in the same conditional UpdateItem that moves it, and the first
decision stands (`OrderWrites.bulk_move`, the batched caller of the one write path of an order's
changes). A message is then counted once: its number goes into the job's record with its counts.
So a redelivered message (or two deliveries of it at once) finds the decisions already taken,
never moves an order twice and counts nothing twice, while the common path costs one write per
order, as a single UpdateItem would. Each move's history entry (from the decision it recorded)
and the status counters follow from the table's stream (`projections`)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .. import metrics
from ..adapters import queue
from ..config import get_settings
from ..domain.changes import BulkMark, OrderChange
from ..domain.errors import (
    ActionInProgress,
    ConcurrentUpdate,
    OrderNotFound,
    TransitionNotAllowed,
    ValidationFailed,
)
from ..domain.model import BulkDecision, BulkJob, iso, new_id, utcnow
from ..domain.statuses import ActionType, OrderStatus
from ..domain.transitions import BULK_ACTION_FOR_TARGET, allowed_from, check_transition
from ..observability import logger
from ..retry import retry_on_conflict
from . import actions
from .ports import stores

if TYPE_CHECKING:  # the API's pydantic models: the consumer (a Lambda of its own) needs none of them
    from ..schemas import BulkIn

DELETE = "delete"
# order ids per message. A status change is one write per order and one small count per
# message: 250 are two or three seconds of work (a job of 1,000 ids is four messages for four
# consumers at once), and the queue's own cost per message is spread thin. A delete is several
# writes per order: ten.
CHUNK = 250
DELETE_CHUNK = 10
_ATTEMPTS = 6  # re-reads of one order when a concurrent write won the race


def submit(cmd: BulkIn, actor: str) -> BulkJob:
    """Write the job, then queue its orders. Repeated ids count once."""
    order_ids = list(dict.fromkeys(cmd.order_ids))
    target = DELETE if cmd.delete else OrderStatus(cmd.status).value  # type: ignore[arg-type]
    size = DELETE_CHUNK if target == DELETE else CHUNK
    job = BulkJob(id=new_id(), target=target, total=len(order_ids), created_at=iso(utcnow()), actor=actor,
                  order_ids=order_ids, chunk_size=size)
    jobs = stores().bulk_jobs
    jobs.create_bulk_job(job)
    bodies: list[dict[str, Any]] = [{"job_id": job.id, "target": target, "actor": actor, "chunk": number,
               "order_ids": order_ids[start:start + size]}
              for number, start in enumerate(range(0, len(order_ids), size))]
    try:
        queue.send_messages(get_settings().bulk_queue_url, bodies)
    except queue.NotQueued as exc:
        # the orders that never reached the queue fail with the reason, so the job still ends DONE
        for index in exc.unsent:
            for order_id in bodies[index]["order_ids"]:
                _fail(job.id, order_id, f"not queued: {exc.message}")
        jobs.finish_bulk_job(job.id)
        raise queue.NotQueued(f"bulk job {job.id}: {exc.message}", exc.unsent) from exc
    return job


def get_job(job_id: str) -> BulkJob:
    return stores().bulk_jobs.get_bulk_job(job_id)


def process_message(body: Any, receive_count: int = 1) -> None:
    """Apply one queued chunk. Raises (so SQS redelivers the message) when an order could not be
    settled for a reason other than its own state; what was settled is found again on redelivery.
    On the last receive before the dead-letter queue, such an order is counted as failed with the
    error instead, so the job still finishes with exact counters."""
    job_id, target, actor, chunk, order_ids = _parse(body)
    last_try = receive_count >= get_settings().bulk_max_receives
    if target != DELETE:
        change_status(job_id, OrderStatus(target), actor, chunk, order_ids, last_try=last_try)
        return  # counting a message closes the job when it is the last (`count_chunk`)
    try:
        _delete_chunk(job_id, actor, order_ids, last_try)
    finally:
        stores().bulk_jobs.finish_bulk_job(job_id)  # DONE once every order is counted


def change_status(job_id: str, to: OrderStatus, actor: str, chunk: int, order_ids: list[str], *,
                  last_try: bool = False) -> None:
    """Decide every order of message `chunk` (one conditional write each), write the moves'
    history, then count the message once."""
    data = stores()
    if data.bulk_jobs.chunk_counted(job_id, chunk):
        data.bulk_jobs.finish_bulk_job(job_id)  # a delivery that counted it may have died before closing it
        return
    decisions: list[tuple[str, BulkDecision]] = []
    error: Exception | None = None
    for order_id in dict.fromkeys(order_ids):
        try:
            decisions.append((order_id, decide(job_id, order_id, to, actor)))
        except Exception as exc:
            logger.exception("bulk: order not settled", extra={"job_id": job_id, "order_id": order_id})
            if not last_try:
                raise
            decisions.append((order_id, BulkDecision(at=iso(utcnow()), actor=actor, error=f"internal error: {exc}")))
            error = error or exc
    # (each move's history entry follows from the table's stream: projections.bulk_history)
    if data.bulk_jobs.count_chunk(job_id, chunk, decisions):  # one UpdateItem of the job: nothing to retry on
        # counted now, and only now: a redelivered message adds no second metric
        metrics.add(metrics.BULK_ORDERS_MOVED, sum(1 for _, d in decisions if d.moved))
    if error is not None:
        raise error  # counted; the message still goes on to the dead-letter queue, for a look


def decide(job_id: str, order_id: str, to: OrderStatus, actor: str) -> BulkDecision:
    """This job's decision on one order, recorded on it: moved (one write, in the common case),
    refused with the reason, or the decision an earlier delivery of the message recorded."""
    writes = stores().writes
    action = BULK_ACTION_FOR_TARGET[to]
    allowed = allowed_from(action)

    def attempt() -> BulkDecision:
        now = iso(utcnow())
        found = writes.bulk_move(job_id, order_id, BulkDecision(at=now, actor=actor, to=to.value), allowed)
        if found is None:
            return BulkDecision(at=now, actor=actor, error="unknown order")
        if isinstance(found, BulkDecision):
            return found  # moved now
        if found.decision is not None:
            return found.decision  # decided by an earlier (or a concurrent) delivery
        reason = _refusal(found.locked, action, found.status)
        if reason is None and found.moves_attention:
            return _move_whole(job_id, order_id, to, BulkDecision(at=now, actor=actor, to=to.value))
        if reason is None:  # it changed between the write and the look: movable now, try again
            raise ConcurrentUpdate(f"order {order_id} kept changing; the message will be retried")
        recorded = writes.bulk_refuse(job_id, order_id, BulkDecision(at=now, actor=actor, error=reason))
        return recorded or BulkDecision(at=now, actor=actor, error="unknown order")

    return retry_on_conflict(attempt, attempts=_ATTEMPTS, base_seconds=0.0)


def _move_whole(job_id: str, order_id: str, to: OrderStatus, decision: BulkDecision) -> BulkDecision:
    """Move an order whose attention list changes with its status (a live account on it, a part
    payment) through the one write path, which recomputes the list, the job's decision with it."""
    try:
        order = stores().orders.get_order(order_id)
        marked = replace(decision, from_=order.status.value, written_ns=time.time_ns())
        stores().writes.apply(order, OrderChange(to_status=to, bulk=BulkMark(job_id, marked)))
    except (ActionInProgress, OrderNotFound) as exc:  # taken or gone meanwhile: look again, decide again
        raise ConcurrentUpdate(f"order {order_id} changed while being moved") from exc
    return marked


def _parse(body: Any) -> tuple[str, str, str, int, list[str]]:
    try:
        job_id, target, order_ids = body["job_id"], body["target"], body["order_ids"]
        actor = body.get("actor") or "bulk"
        chunk = body.get("chunk", -1) if target == DELETE else body["chunk"]
        ok = (isinstance(job_id, str) and isinstance(order_ids, list) and all(isinstance(o, str) for o in order_ids)
              and isinstance(chunk, int) and not isinstance(chunk, bool)
              and (target == DELETE or target in {s.value for s in OrderStatus}))
    except (KeyError, TypeError) as exc:
        raise ValidationFailed(f"not a bulk message: {exc!r}") from exc
    if not ok:
        raise ValidationFailed("not a bulk message")
    return job_id, target, actor, chunk, order_ids


def _delete_chunk(job_id: str, actor: str, order_ids: list[str], last_try: bool) -> None:
    """Order by order: each delete is claimed, done and counted on its own (`_delete`)."""
    error: Exception | None = None
    for order_id in order_ids:
        try:
            apply_delete(job_id, order_id, actor)
        except Exception as exc:
            logger.exception("bulk: order not settled", extra={"job_id": job_id, "order_id": order_id})
            if last_try:  # counted failed, over its claim when it was claimed: the job still ends
                claimed = stores().bulk_jobs.outcome(job_id, order_id) == "deleting"
                stores().bulk_jobs.record_outcome(job_id, order_id, False, f"internal error: {exc}", claimed=claimed)
            error = error or exc
    if error is not None:
        raise error


def apply_delete(job_id: str, order_id: str, actor: str) -> str:
    """Delete one order of a job; returns its outcome ("ok", "failed")."""
    done = stores().bulk_jobs.outcome(job_id, order_id)
    if done in ("ok", "failed"):
        return done
    return _delete(job_id, order_id, actor, resume=done == "deleting")


def _refusal(locked: bool, action: ActionType, current: OrderStatus) -> str | None:
    if locked:
        return "action in progress"
    try:
        check_transition(action, current)
    except TransitionNotAllowed as exc:
        return f"invalid transition: {exc.message}"
    return None


def _fail(job_id: str, order_id: str, reason: str, *, claimed: bool = False) -> str:
    retry_on_conflict(lambda: stores().bulk_jobs.record_outcome(job_id, order_id, False, reason, claimed=claimed),
                      attempts=_ATTEMPTS, base_seconds=0.02)
    return "failed"


def _count(job_id: str, order_id: str) -> str:
    retry_on_conflict(lambda: stores().bulk_jobs.record_outcome(job_id, order_id, True, claimed=True),
                      attempts=_ATTEMPTS, base_seconds=0.02)
    return "ok"


def _delete(job_id: str, order_id: str, actor: str, *, resume: bool) -> str:
    """Delete as DELETE /orders/{id} does. A delete spans several writes, so the outcome is
    claimed first, then the order deleted, then the claim counted; a redelivery resumes a claim
    (deleting again is harmless, and an order already gone was deleted by this job)."""
    data = stores()
    if not resume:
        try:
            order = data.orders.get_order_header(order_id)
        except OrderNotFound:
            return _fail(job_id, order_id, "unknown order")
        reason = _refusal(order.pending_action is not None, ActionType.DELETE, order.status)
        if reason:
            return _fail(job_id, order_id, reason)
        if not data.bulk_jobs.claim_delete(job_id, order_id):
            return data.bulk_jobs.outcome(job_id, order_id) or "failed"
    try:
        actions.delete_order(order_id, actor)
    except OrderNotFound:
        pass  # gone: deleted by this job's earlier delivery (a claim is only taken on an existing order)
    except ActionInProgress:
        return _fail(job_id, order_id, "action in progress", claimed=True)
    except TransitionNotAllowed as exc:
        return _fail(job_id, order_id, f"invalid transition: {exc.message}", claimed=True)
    return _count(job_id, order_id)


# -- the stale-job sweep -------------------------------------------------------------------------


def finish_stale(job: BulkJob, reason: str) -> int:
    """Finish a job nobody moves on any more (its messages lost, parked or stuck): every order not
    counted yet is counted with the decision it has — moved, refused — or, with none, refused with
    `reason` (recorded on the order, so a late delivery never moves it); the job ends DONE. Returns
    how many orders it counted."""
    data = stores()
    counted = 0
    if job.target == DELETE:
        for order_id in job.order_ids:
            outcome = data.bulk_jobs.outcome(job.id, order_id)
            if outcome in ("ok", "failed"):
                continue
            if data.bulk_jobs.record_outcome(job.id, order_id, False, reason, claimed=outcome == "deleting"):
                counted += 1
    else:
        size = job.chunk_size or CHUNK
        for chunk, start in enumerate(range(0, len(job.order_ids), size)):
            if chunk in job.counted_chunks:
                continue
            now = iso(utcnow())
            decisions = []
            for order_id in job.order_ids[start:start + size]:
                mark = BulkDecision(at=now, actor=ACTOR_SWEEP, error=reason)
                decisions.append((order_id, data.writes.bulk_refuse(job.id, order_id, mark)
                                  or BulkDecision(at=now, actor=ACTOR_SWEEP, error="unknown order")))
            if data.bulk_jobs.count_chunk(job.id, chunk, decisions):
                counted += len(decisions)
    data.bulk_jobs.finish_bulk_job(job.id)
    return counted


ACTOR_SWEEP = "cleanup"
