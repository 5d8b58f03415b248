"""Bulk status changes and deletes (SPEC §2, §4): a job record, work sent over SQS in small
chunks, and a consumer that moves each order as the single action with that target would —
only the order's `status` field, never a module command, a refund or an email.

Every order of a job gets exactly one outcome record, written in the same transaction as the
order's change and the job counter it moves, so a redelivered message never counts twice and the
counters are exact."""

from __future__ import annotations

import hashlib
import random
import time
from typing import TYPE_CHECKING, Any

from ..adapters import queue
from ..adapters.repository import OrderChange, get_repository
from ..config import get_settings
from ..domain.errors import (
    ActionInProgress,
    ConcurrentUpdate,
    OrderNotFound,
    TransitionNotAllowed,
    ValidationFailed,
)
from ..domain.model import BulkJob, HistoryEntry, Order, iso, new_id, utcnow
from ..domain.statuses import ActionType, OrderStatus
from ..domain.transitions import BULK_ACTION_FOR_TARGET, check_transition
from ..observability import logger

if TYPE_CHECKING:  # the API's pydantic models: the consumer (a Lambda of its own) needs none of them
    from ..schemas import BulkIn

DELETE = "delete"
CHUNK = 10  # order ids per message: one SendMessageBatch carries 100 orders
_ATTEMPTS = 6  # re-reads of one order when a concurrent write (or the job counter) won the race


def submit(cmd: BulkIn, actor: str) -> BulkJob:
    """Write the job, then queue its orders. Repeated ids count once."""
    order_ids = list(dict.fromkeys(cmd.order_ids))
    target = DELETE if cmd.delete else OrderStatus(cmd.status).value  # type: ignore[arg-type]
    job = BulkJob(id=new_id(), target=target, total=len(order_ids), created_at=iso(utcnow()), actor=actor)
    repo = get_repository()
    repo.create_bulk_job(job)
    bodies = [{"job_id": job.id, "target": target, "actor": actor, "order_ids": order_ids[i:i + CHUNK]}
              for i in range(0, len(order_ids), CHUNK)]
    try:
        queue.send_messages(get_settings().bulk_queue_url, bodies)
    except queue.NotQueued as exc:
        # the orders that never reached the queue fail with the reason, so the job still ends DONE
        for index in exc.unsent:
            for order_id in bodies[index]["order_ids"]:
                _fail(job.id, order_id, f"not queued: {exc.message}")
        repo.finish_bulk_job(job.id)
        raise queue.NotQueued(f"bulk job {job.id}: {exc.message}", exc.unsent) from exc
    return job


def get_job(job_id: str) -> BulkJob:
    return get_repository().get_bulk_job(job_id)


def process_message(body: Any, receive_count: int = 1) -> None:
    """Apply one queued chunk. Raises (so SQS redelivers the message) when an order could not be
    settled for a reason other than its own state; orders already counted are skipped on
    redelivery. On the last receive before the dead-letter queue, such an order is counted as
    failed with the error first, so the job still finishes with exact counters."""
    job_id, target, actor, order_ids = _parse(body)
    last_try = receive_count >= get_settings().bulk_max_receives
    chunk = chunk_key(job_id, target, order_ids)
    # the whole message in one transaction when nothing stands in the way (the common case); the
    # last try goes order by order, so that an order that keeps failing is counted failed alone
    if target != DELETE and not last_try and settle_chunk(job_id, target, order_ids, actor, chunk):
        get_repository().finish_bulk_job(job_id)
        return
    error: Exception | None = None
    for order_id in order_ids:
        try:
            apply_to_order(job_id, target, order_id, actor, chunk=chunk)
        except Exception as exc:
            logger.exception("bulk: order not settled", extra={"job_id": job_id, "order_id": order_id})
            if last_try:
                get_repository().record_bulk_outcome(job_id, order_id, False, f"internal error: {exc}", chunk=chunk)
            error = error or exc
    get_repository().finish_bulk_job(job_id)
    if error is not None:
        raise error


def chunk_key(job_id: str, target: str, order_ids: list[str]) -> str:
    """The same for every delivery of one message."""
    return hashlib.sha256(f"{job_id}|{target}|{','.join(order_ids)}".encode()).hexdigest()[:24]


def settle_chunk(job_id: str, target: str, order_ids: list[str], actor: str, chunk: str) -> bool:
    """Settle a message's orders in one read and one transaction (`Repository.apply_bulk_chunk`);
    True when the message is settled (now or by an earlier delivery). False leaves it to the
    order-by-order path: some of its orders were counted one by one already, or one changed under
    us, or the message is too big for one transaction."""
    repo = get_repository()
    if len(set(order_ids)) != len(order_ids) or 2 * len(order_ids) + get_settings().status_shards + 2 > 100:
        return False
    done, orders, counted = repo.bulk_chunk_state(job_id, chunk, order_ids)
    if done:
        return True
    if counted:
        return False
    status = OrderStatus(target)
    action = BULK_ACTION_FOR_TARGET[status]
    now = iso(utcnow())
    moves: list[tuple[Order, OrderStatus, HistoryEntry]] = []
    refusals: list[tuple[str, str]] = []
    for order_id in order_ids:
        order = orders.get(order_id)
        reason = "unknown order" if order is None else _refusal(order.pending_action is not None, action,
                                                                order.status)
        if reason or order is None:
            refusals.append((order_id, reason or "unknown order"))
            continue
        moves.append((order, status, HistoryEntry(at=now, actor=actor, action="bulk status change",
                                                  from_=order.status.value, to=status.value,
                                                  detail=f"bulk job {job_id}")))
    for attempt in range(_ATTEMPTS):
        outcome = repo.apply_bulk_chunk(job_id, chunk, moves, refusals)
        if outcome == "done":
            return True
        if outcome == "changed":  # a guard failed: a concurrent delivery won, or an order changed
            return repo.bulk_chunk_done(job_id, chunk)
        _backoff(attempt)  # "busy": another transaction held an item (the job's counters)
    return False


def _parse(body: Any) -> tuple[str, str, str, list[str]]:
    try:
        job_id, target, order_ids = body["job_id"], body["target"], body["order_ids"]
        actor = body.get("actor") or "bulk"
        ok = (isinstance(job_id, str) and isinstance(order_ids, list) and all(isinstance(o, str) for o in order_ids)
              and (target == DELETE or target in {s.value for s in OrderStatus}))
    except (KeyError, TypeError) as exc:
        raise ValidationFailed(f"not a bulk message: {exc!r}") from exc
    if not ok:
        raise ValidationFailed("not a bulk message")
    return job_id, target, actor, order_ids


def apply_to_order(job_id: str, target: str, order_id: str, actor: str, chunk: str | None = None) -> str:
    """Settle one order of a job; returns its outcome ("ok", "failed"). `chunk`: the key of its
    message, which counts the order instead once that message is settled as a whole."""
    repo = get_repository()
    if target == DELETE:
        done = repo.bulk_outcome(job_id, order_id)
        if done in ("ok", "failed"):
            return done
        return _delete(job_id, order_id, actor, resume=done == "deleting")
    # No look at the outcome first: a redelivered order fails its transaction (or its failure's)
    # on the outcome record's condition and is counted once all the same.
    status = OrderStatus(target)
    action = BULK_ACTION_FOR_TARGET[status]
    for attempt in range(_ATTEMPTS):
        try:
            order = repo.get_order_header(order_id)
        except OrderNotFound:
            return _fail(job_id, order_id, "unknown order", chunk=chunk)
        reason = _refusal(order.pending_action is not None, action, order.status)
        if reason:
            return _fail(job_id, order_id, reason, chunk=chunk)
        entry = HistoryEntry(at=iso(utcnow()), actor=actor, action="bulk status change", from_=order.status.value,
                             to=status.value, detail=f"bulk job {job_id}")
        try:
            repo.change_order(order, OrderChange(to_status=status, history=[entry]),
                              extra=[repo.bulk_outcome_op(job_id, order_id, True, chunk=chunk)])
            return "ok"
        except ActionInProgress:
            return _fail(job_id, order_id, "action in progress", chunk=chunk)
        except OrderNotFound:
            return _fail(job_id, order_id, "unknown order", chunk=chunk)
        except ConcurrentUpdate:
            # the order changed meanwhile, the job counter was busy, or this order was counted by a
            # concurrent delivery of the same message: look again
            done = repo.bulk_outcome(job_id, order_id, chunk=chunk)
            if done in ("ok", "failed"):
                return done
            _backoff(attempt)
    raise ConcurrentUpdate(f"order {order_id} kept changing; the message will be retried")


def _refusal(locked: bool, action: ActionType, current: OrderStatus) -> str | None:
    if locked:
        return "action in progress"
    try:
        check_transition(action, current)
    except TransitionNotAllowed as exc:
        return f"invalid transition: {exc.message}"
    return None


def _fail(job_id: str, order_id: str, reason: str, *, claimed: bool = False, chunk: str | None = None) -> str:
    for attempt in range(_ATTEMPTS):
        try:
            get_repository().record_bulk_outcome(job_id, order_id, False, reason, claimed=claimed, chunk=chunk)
            return "failed"
        except ConcurrentUpdate:
            _backoff(attempt)
    raise ConcurrentUpdate(f"bulk job {job_id} stayed busy; the message will be retried")


def _count(job_id: str, order_id: str) -> str:
    for attempt in range(_ATTEMPTS):
        try:
            get_repository().record_bulk_outcome(job_id, order_id, True, claimed=True)
            return "ok"
        except ConcurrentUpdate:
            _backoff(attempt)
    raise ConcurrentUpdate(f"bulk job {job_id} stayed busy; the message will be retried")


def _delete(job_id: str, order_id: str, actor: str, *, resume: bool) -> str:
    """Delete as DELETE /orders/{id} does. A delete spans several writes, so the outcome is
    claimed first, then the order deleted, then the claim counted; a redelivery resumes a claim
    (deleting again is harmless, and an order already gone was deleted by this job)."""
    from . import actions  # the single-order actions (issue 3); imported when first needed

    repo = get_repository()
    if not resume:
        try:
            order = repo.get_order_header(order_id)
        except OrderNotFound:
            return _fail(job_id, order_id, "unknown order")
        reason = _refusal(order.pending_action is not None, ActionType.DELETE, order.status)
        if reason:
            return _fail(job_id, order_id, reason)
        if not repo.claim_bulk_delete(job_id, order_id):
            return repo.bulk_outcome(job_id, order_id) or "failed"
    try:
        actions.delete_order(order_id, actor)
    except OrderNotFound:
        pass  # gone: deleted by this job's earlier delivery (a claim is only taken on an existing order)
    except ActionInProgress:
        return _fail(job_id, order_id, "action in progress", claimed=True)
    except TransitionNotAllowed as exc:
        return _fail(job_id, order_id, f"invalid transition: {exc.message}", claimed=True)
    return _count(job_id, order_id)


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.02 * 2**attempt))  # noqa: S311 - jitter, not security
