"""What every action workflow shares: keeping an action's steps current, acting only while the
order holds the action's lock, and the ends of an action — a checkpoint after each Map, the
finish of a successful run, the failure of any run (also used by a start that could not start a
workflow, and by the lock sweep).

Every step is idempotent, so Step Functions may retry it and a new run of a failed action finishes
what was left without repeating what was done. Errors are raised, never swallowed: the class name
is the Step Functions error name that the ASL retries or catches."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..adapters import crypto
from ..domain.changes import OrderChange
from ..domain.errors import (
    ConcurrentUpdate,
    LockLost,
    NotFound,
    OrderDeskError,
    OrderNotFound,
    PermanentError,
    StepsFailed,
    TransientError,
)
from ..domain.items import has_live_service
from ..domain.model import ActionStep, HistoryEntry, Order, OrderItem, Server, iso, utcnow
from ..domain.statuses import ActionStatus, ActionType, InvoiceStatus, ItemStatus, OrderStatus
from ..observability import logger
from ..retry import retry_on_conflict
from .ports import stores
from .workflow_contract import (
    FINAL_STEP,
    CheckpointInput,
    FailureInput,
    FinishResult,
    StepDone,
    StepInput,
    as_dict,
    label,
)


class Outcome:
    def __init__(self) -> None:
        self.status = "SUCCEEDED"

    def skip(self) -> None:
        self.status = "SKIPPED"

    def owe(self) -> None:
        """A refund recorded but not made (no refund API): a person pays it back and confirms it."""
        self.status = "OWED"


def mark(inp: StepInput, name: str, status: str, error: str | None) -> None:
    stores().actions.set_action_step(inp.order_id, inp.action_id, ActionStep(name=name, status=status, error=error))


def _mark_quietly(inp: StepInput, name: str, status: str, error: str | None) -> None:
    """Note an error on the step while the error itself propagates; if even that write fails,
    the original error still wins (and the workflow's Catch records the failure)."""
    try:
        mark(inp, name, status, error[:500] if error else None)
    except Exception:  # noqa: BLE001
        logger.warning("could not note a step's error", extra={"step": name, "action_id": inp.action_id})


@contextmanager
def step(inp: StepInput, name: str) -> Iterator[Outcome]:
    """Run one step of an action: RUNNING, then SUCCEEDED, SKIPPED or OWED; on an error, the error —
    FAILED when retrying will not help, RUNNING "(retrying)" when the state machine retries."""
    outcome = Outcome()
    mark(inp, name, "RUNNING", None)
    try:
        yield outcome
    except (TransientError, ConcurrentUpdate) as exc:  # both retried by the state machines
        _mark_quietly(inp, name, "RUNNING", f"{exc.message} (retrying)")
        raise
    except OrderDeskError as exc:
        _mark_quietly(inp, name, "FAILED", exc.message)
        raise
    except Exception as exc:
        _mark_quietly(inp, name, "RUNNING", f"{type(exc).__name__}: {str(exc)[:200]} (retrying)")
        raise
    mark(inp, name, outcome.status, None)


def owned_order(inp: StepInput) -> Order:
    order = stores().orders.get_order(inp.order_id)
    if order.pending_action is None or order.pending_action.action_id != inp.action_id:
        raise LockLost(f"order {inp.order_id} is no longer held by action {inp.action_id}")
    return order


def item_of(order: Order, item_id: str) -> OrderItem:
    for item in order.items:
        if item.id == item_id:
            return item
    raise PermanentError(f"item {item_id} is not on order {order.id}")


def item_text(item: OrderItem) -> str:
    return f"{item.domain or item.description} ({item.id})"


def server_of(server_id: str | None) -> tuple[Server, str | None] | None:
    """The item's server and its decrypted credentials (for its module), or None."""
    if not server_id:
        return None
    directory = stores().directory
    try:
        server = directory.get_server(server_id)
        encrypted = directory.server_credentials(server_id)
    except NotFound as exc:
        raise PermanentError(f"server {server_id} no longer exists") from exc
    return server, crypto.decrypt(encrypted, crypto.server_context(server_id)) if encrypted else None


def change_item(inp: StepInput, item: OrderItem, to: ItemStatus, history: HistoryEntry, **fields: Any) -> None:
    """Move one item from the status it was read in, under the action's lock; a lost race is
    re-read and explained."""
    try:
        stores().writes.change_item(inp.order_id, item.id, expect_status=item.status,
                                    fields={"status": to.value, "last_error": None, **fields}, history=history,
                                    action_id=inp.action_id)
    except ConcurrentUpdate:
        if item_of(owned_order(inp), item.id).status is to:  # LockLost when the lock is gone
            return  # a concurrent run of this very step got there first
        raise


# -- the ends of an action -------------------------------------------------------------------------


def error_text(error: dict[str, Any] | None) -> str:
    """`{"Error", "Cause"}` of a caught Step Functions error as one readable line."""
    if not error:
        return "unknown error"
    name = str(error.get("Error") or "Error")
    cause = error.get("Cause")
    message = None
    if isinstance(cause, str):
        try:
            parsed = json.loads(cause)
            message = parsed.get("errorMessage") if isinstance(parsed, dict) else None
        except ValueError:
            message = cause
    return f"{name}: {message}"[:1000] if message else name


def checkpoint(event: dict[str, Any]) -> dict[str, Any]:
    """After a Map: every failed item or payment gets its error on its step (and the item its
    `last_error`); if any failed, `StepsFailed` ends the action (nothing further runs)."""
    inp = CheckpointInput.parse(event)
    failed = [r for r in inp.results if r.error]
    if not failed:
        return as_dict(StepDone(outcome=f"{len(inp.results)} done"))
    data = stores()
    reasons = []
    for result in failed:
        text = error_text(result.error)
        kind, _, ref = result.step.partition(":")
        reasons.append(f"{ref}: {text}")
        mark(inp, result.step, "FAILED", text[:500])
        if kind != "refund":
            try:
                data.writes.update_item(inp.order_id, ref, last_error=text[:500])
            except ConcurrentUpdate:
                pass  # the item is gone with its order: nothing to annotate
    noun = "payment(s)" if failed[0].step.startswith("refund:") else "item(s)"
    raise StepsFailed(f"{len(failed)} of {len(inp.results)} {noun} failed: " + "; ".join(reasons)[:800])


def finish(event: dict[str, Any]) -> dict[str, Any]:
    """The end of a successful run: the order (and the items still to move) to the action's
    status, the invoice to Refunded for Cancel & Refund, the lock released, the action
    SUCCEEDED — one transaction."""
    inp = StepInput.parse(event)
    data = stores()
    name = FINAL_STEP[inp.action]
    if data.actions.get_action(inp.order_id, inp.action_id).status is ActionStatus.SUCCEEDED:
        # a retry of a finish whose transaction committed (its invocation died after): done, and
        # neither its step set back to RUNNING nor the execution failed on the lock it released
        return as_dict(FinishResult(order_status=data.orders.get_order_header(inp.order_id).status.value))
    mark(inp, name, "RUNNING", None)

    def end() -> OrderStatus:
        order = owned_order(inp)
        action = data.actions.get_action(inp.order_id, inp.action_id)
        now = iso(utcnow())
        action.status, action.finished_at, action.error = ActionStatus.SUCCEEDED, now, None
        for one in action.steps:
            if one.name == name:
                one.status, one.error = "SUCCEEDED", None
        change = _final_change(inp, order, now)
        data.actions.end_action(order, change, action)
        return change.to_status or order.status

    return as_dict(FinishResult(order_status=retry_on_conflict(end, attempts=6).value))


def _final_change(inp: StepInput, order: Order, now: str) -> OrderChange:
    if inp.action is ActionType.ITEM_COMMAND:  # the items moved with their commands; the order stays
        return OrderChange(clear_lock=True, history=[HistoryEntry(
            at=now, actor=inp.actor, action=f"{label(inp.action)} done", from_=None, to=None,
            execution=inp.execution)])
    live: dict[str, ItemStatus] = {}
    if inp.action is ActionType.ACCEPT:
        target, item_target, invoice_target = OrderStatus.ACTIVE, None, None
        # an item whose account is live already was not created again: it is Active as it is
        live = {i.id: ItemStatus.ACTIVE for i in order.items if has_live_service(i) and i.status is not ItemStatus.ACTIVE}
    elif inp.action is ActionType.FRAUD:
        target, item_target, invoice_target = OrderStatus.FRAUD, ItemStatus.FRAUD, None
    else:
        target, item_target = OrderStatus.CANCELLED, ItemStatus.CANCELLED
        invoice_target = InvoiceStatus.REFUNDED if inp.action is ActionType.CANCEL_REFUND else None
    if invoice_target is not None and (order.invoice is None or order.invoice.status is invoice_target):
        invoice_target = None
    history = [HistoryEntry(at=now, actor=inp.actor, action=f"{label(inp.action)} done", from_=order.status.value,
                            to=target.value, execution=inp.execution)]
    if live:
        history.append(HistoryEntry(at=now, actor=inp.actor, action="items updated", from_=None,
                                    to=ItemStatus.ACTIVE.value, execution=inp.execution,
                                    detail="; ".join(f"{item_text(i)} was {i.status.value}, its account live"
                                                     for i in order.items if i.id in live)[:2000]))
    if item_target is not None:
        moved = [i for i in order.items if i.status is not item_target]
        if moved:
            history.append(HistoryEntry(at=now, actor=inp.actor, action="items updated", from_=None,
                                        to=item_target.value, execution=inp.execution,
                                        detail="; ".join(f"{item_text(i)} was {i.status.value}" for i in moved)[:2000]))
    if invoice_target is not None and order.invoice is not None:
        history.append(HistoryEntry(at=now, actor=inp.actor, action="invoice refunded",
                                    from_=order.invoice.status.value, to=invoice_target.value,
                                    detail=order.invoice.id, execution=inp.execution))
    return OrderChange(to_status=target, item_status=item_target, item_statuses=live, invoice_status=invoice_target,
                       history=history, clear_lock=True)


def record_failure(event: dict[str, Any]) -> dict[str, Any]:
    """Catch-all of a workflow: the action FAILED with the error, the order's lock released; the
    order stays as the steps left it (each item shows its own status and last error)."""
    inp = FailureInput.parse(event)
    reason = error_text(inp.failure)
    action = fail_action(inp.order_id, inp.action_id, reason, actor=inp.actor, execution=inp.execution)
    logger.warning("action failed", extra={"order_id": inp.order_id, "action_id": inp.action_id, "error": reason})
    return as_dict(StepDone(outcome=f"{action.status.value}: {action.error}"))


def fail_action(order_id: str, action_id: str, reason: str, *, actor: str, execution: str | None = None) -> Any:
    """End a running action as FAILED: unfinished steps say why, the order's lock (if the action
    still holds it) is released and the failure recorded, in one transaction. A no-op for an
    action that has already ended."""
    data = stores()

    def fail() -> Any:
        action = data.actions.get_action(order_id, action_id)
        if action.status is not ActionStatus.RUNNING:
            return action
        now = iso(utcnow())
        action.status, action.error, action.finished_at = ActionStatus.FAILED, reason[:1000], now
        for one in action.steps:
            if one.status == "RUNNING":
                one.status, one.error = "FAILED", one.error or reason[:500]
        history = HistoryEntry(at=now, actor=actor, action=f"{label(action.type)} failed", from_=None, to=None,
                               detail=reason[:1000], execution=execution or action.execution_arn)
        try:
            order = data.orders.get_order(order_id)  # whole: its end recomputes the attention list
        except OrderNotFound:
            data.actions.close_action(action, None)
            return action
        if order.pending_action is not None and order.pending_action.action_id == action_id:
            data.actions.end_action(order, OrderChange(clear_lock=True, history=[history]), action)
        else:
            data.actions.close_action(action, history)
        return action

    return retry_on_conflict(fail, attempts=8)
