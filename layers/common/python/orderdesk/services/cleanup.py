"""Scheduled cleanups (SPEC §4), one use case per rule:

* `cancel_unpaid`: Pending orders whose invoice is still unpaid `ORDER_UNPAID_CANCEL_DAYS` after
  they were placed go through the Cancel workflow (actor "cleanup"). 0 = off. A part-paid order
  (money paid, a balance still due: attention `part_paid`) is not unpaid: Cancel would keep what
  was paid, so it is skipped, with the reason, and left for a person.
* `release_locks`: an order's `pending_action` must never outlive its workflow. A lock whose
  execution has ended (or that Step Functions does not know) is released and its action marked
  FAILED; a lock with no execution recorded is stale after `STALE_LOCK_MINUTES`. A half-done
  delete (its lock has no workflow) is finished instead.
* `purge_old`: Cancelled and Fraud orders untouched for `RETENTION_DAYS` are deleted as
  DELETE /orders/{id} does. 0 = off (the default).
* `finish_stale_jobs`: a bulk job with no progress for `BULK_STALE_MINUTES` (15) is finished: its
  orders not yet counted are counted with their decision, or failed with the reason.
* `sync_domains`: the registrar is asked about every domain still waiting at it, and the
  attention list of orders whose domains waited past `DOMAIN_WAIT_HOURS` is recomputed
  (`domain_sync`).

Idempotency, job and action records expire by the table's TTL; no rule is needed for them.
An order a rule cannot handle now (a workflow took it meanwhile) is skipped; any other error is
collected while the rule carries on with the others, and raised at the end so the schedule's
retry runs again."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..adapters import workflows
from ..config import get_settings
from ..domain.attention import PART_PAID, part_paid
from ..domain.changes import OrderChange
from ..domain.errors import (
    ActionInProgress,
    CleanupIncomplete,
    ConcurrentUpdate,
    NotFound,
    TransitionNotAllowed,
    ValidationFailed,
)
from ..domain.model import HistoryEntry, Order, iso, utcnow
from ..domain.statuses import ActionType, OrderStatus, PaymentStatus
from ..observability import logger
from ..retry import retry_on_conflict
from . import actions, bulk
from .ports import stores

ACTOR = "cleanup"
RULES = ("cancel_unpaid", "release_locks", "purge_old", "finish_stale_jobs", "sync_domains")
_SKIP = (ActionInProgress, TransitionNotAllowed, ConcurrentUpdate, NotFound)


@dataclass
class RuleReport:
    rule: str
    enabled: bool = True
    examined: int = 0
    changed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)  # why an order was skipped, where it says
    errors: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "enabled": self.enabled, "examined": self.examined, "changed": self.changed,
                "skipped": self.skipped, "reasons": self.reasons, "errors": self.errors}


class Skip(Exception):
    """An order a rule leaves alone on purpose, and why."""


def rules_of(event: Any) -> list[str]:
    """The rules a scheduled event asks for: `{"rule": ...}` or `{"rules": [...]}` (the schedules'
    Input); anything else (Scheduler's default event, an empty test event) means every rule."""
    wanted: Iterable[Any] = RULES
    if isinstance(event, dict) and "rule" in event:
        wanted = [event["rule"]]
    elif isinstance(event, dict) and "rules" in event:
        wanted = event["rules"] or RULES
    rules = [str(r) for r in wanted]
    unknown = [r for r in rules if r not in RULES]
    if unknown:
        raise ValidationFailed(f"unknown cleanup rule(s): {', '.join(unknown)}", {"rule": f"one of {RULES}"})
    return rules


def run_rules(rules: Iterable[str]) -> list[dict[str, Any]]:
    """Run each rule; raise after all ran if any order hit an unexpected error."""
    reports = [run(rule) for rule in rules]
    failed = {f"{r.rule}:{oid}": err for r in reports for oid, err in r.errors.items()}
    if failed:
        raise CleanupIncomplete(f"{len(failed)} order(s) could not be cleaned up: {failed}")
    return [r.as_dict() for r in reports]


def run(rule: str) -> RuleReport:
    if rule == "sync_domains":
        from .domain_sync import sync_domains  # the registrar's client: loaded by the rule that asks it

        report = sync_domains()
    else:
        report = {"cancel_unpaid": cancel_unpaid, "release_locks": release_locks, "purge_old": purge_old,
                  "finish_stale_jobs": finish_stale_jobs}[rule]()
    logger.info("cleanup rule ran", extra={k: v if not isinstance(v, list) else len(v)
                                           for k, v in report.as_dict().items()})
    return report


def _each(report: RuleReport, orders: Iterable[Order], fn: Any) -> RuleReport:
    for order in orders:
        report.examined += 1
        try:
            (report.changed if fn(order) else report.skipped).append(order.id)
        except (Skip, *_SKIP) as exc:
            report.skipped.append(order.id)
            report.reasons[order.id] = str(exc)
            logger.info("cleanup: order skipped", extra={"rule": report.rule, "order_id": order.id,
                                                         "reason": str(exc)})
        except Exception as exc:  # collected, the others still run; raised by run_rules
            report.errors[order.id] = f"{type(exc).__name__}: {exc}"
            logger.exception("cleanup: order failed", extra={"rule": report.rule, "order_id": order.id})
    return report


# -- cancel unpaid -------------------------------------------------------------------------------


def cancel_unpaid() -> RuleReport:
    days = get_settings().order_unpaid_cancel_days
    report = RuleReport("cancel_unpaid", enabled=days > 0)
    if days <= 0:
        return report
    cutoff = iso(utcnow() - timedelta(days=days))

    def cancel(order: Order) -> bool:
        if order.payment_status is not PaymentStatus.UNPAID or order.pending_action is not None:
            return False
        whole = stores().orders.get_order(order.id)  # the header has no invoice: what was paid on it
        if part_paid(whole):
            invoice = whole.invoice
            assert invoice is not None
            raise Skip(f"part paid ({invoice.paid_amount() - invoice.refunded_amount()} paid, {invoice.balance} "
                       f"{invoice.currency} due): left for a person (attention {PART_PAID})")
        actions.start_action(order.id, ActionType.CANCEL, {}, ACTOR)
        return True

    return _each(report, stores().orders.iter_orders(OrderStatus.PENDING, placed_before=cutoff), cancel)


# -- stale locks ---------------------------------------------------------------------------------


def release_locks() -> RuleReport:
    settings = get_settings()
    grace = timedelta(minutes=settings.stale_lock_minutes)
    now = utcnow()
    report = RuleReport("release_locks")

    def sweep(order: Order) -> bool:
        lock = order.pending_action
        if lock is None:
            return False
        old = now - _parse(lock.started_at) > grace
        if lock.type == ActionType.DELETE.value:
            if not old:
                return False
            actions.delete_order(order.id, ACTOR)  # a delete that died half-way: finish it
            return True
        reason = _stale_reason(lock.execution_arn, old, settings.stale_lock_minutes)
        if reason is None:
            return False
        actions.fail_stale_action(order.id, lock.action_id, reason)
        _clear_if_still_held(order.id, lock.action_id, reason)
        return True

    return _each(report, stores().orders.iter_locked_orders(), sweep)


def _stale_reason(execution_arn: str | None, old: bool, minutes: int) -> str | None:
    if not execution_arn:
        return f"no workflow execution was recorded within {minutes} minutes" if old else None
    execution = workflows.describe(execution_arn)
    if execution is None:
        # the lock names its execution before StartExecution: give a start in flight its time
        return "the workflow execution does not exist" if old else None
    if execution.status == "RUNNING":
        return None
    why = f": {execution.error}" if execution.error else ""
    return f"the workflow ended {execution.status}{why} without releasing the order"


def _clear_if_still_held(order_id: str, action_id: str, reason: str) -> None:
    """fail_stale_action leaves the lock of an action that had already ended: release it here."""
    data = stores()

    def release() -> None:
        order = data.orders.get_order(order_id)
        if order.pending_action is None or order.pending_action.action_id != action_id:
            return
        entry = HistoryEntry(at=iso(utcnow()), actor=ACTOR, action="stale lock released", from_=None, to=None,
                             detail=reason, execution=order.pending_action.execution_arn)
        data.writes.apply(order, OrderChange(clear_lock=True, history=[entry]), holder=action_id)

    retry_on_conflict(release, attempts=3)


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


# -- retention -----------------------------------------------------------------------------------


def purge_old() -> RuleReport:
    days = get_settings().retention_days
    report = RuleReport("purge_old", enabled=days > 0)
    if days <= 0:
        return report
    cutoff = iso(utcnow() - timedelta(days=days))
    orders = stores().orders

    def purge(order: Order) -> bool:
        if order.pending_action is not None:
            return False
        # placed before the cutoff is necessary, not enough: kept N days after its last change
        full = orders.get_order(order.id)
        last = max([h.at for h in full.history] + [full.placed_at])
        if last >= cutoff:
            return False
        actions.delete_order(order.id, ACTOR)
        return True

    candidates = [o for status in (OrderStatus.CANCELLED, OrderStatus.FRAUD)
                  for o in orders.iter_orders(status, placed_before=cutoff)]
    return _each(report, candidates, purge)


# -- stale bulk jobs -------------------------------------------------------------------------------


def finish_stale_jobs() -> RuleReport:
    minutes = get_settings().bulk_stale_minutes
    report = RuleReport("finish_stale_jobs")
    cutoff = utcnow() - timedelta(minutes=minutes)
    for job in stores().bulk_jobs.open_jobs():
        report.examined += 1
        if _parse(job.updated_at or job.created_at) > cutoff:
            report.skipped.append(job.id)
            continue
        try:
            bulk.finish_stale(job, f"not processed: the job made no progress for {minutes} minutes")
            report.changed.append(job.id)
        except Exception as exc:  # collected, the others still run; raised by run_rules
            report.errors[job.id] = f"{type(exc).__name__}: {exc}"
            logger.exception("cleanup: stale job not finished", extra={"job_id": job.id})
    return report
