"""Order actions.

Accept, Cancel, Cancel & Refund and Set as Fraud run as Step Functions workflows (their steps are
`accept_steps` and `cancel_steps`, their contract `workflow_contract`): `start_action` checks the transition, takes the order's lock and records
the action in one conditional transaction, then starts the execution under a deterministic name.
Set Back to Pending and Delete run here, directly.

Callers: the API routes, fraud screening (actor "fraud-screening", Set as Fraud), the cleanups
(actor "cleanup": Cancel of unpaid orders, `fail_stale_action` for the lock sweep) and the bulk
consumer (`delete_order`)."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Any

from ..adapters import crypto, workflows
from ..config import get_settings
from ..domain.changes import OrderChange
from ..domain.errors import (
    ActionInProgress,
    ConcurrentUpdate,
    IdempotencyConflict,
    NotFound,
    OrderNotFound,
    PermanentError,
    TransitionNotAllowed,
    ValidationFailed,
)
from ..domain.items import has_live_service, needs_provisioning
from ..domain.model import Action, ActionStep, HistoryEntry, Invoice, Order, iso, new_id, utcnow
from ..domain.money import ZERO
from ..domain.statuses import ActionStatus, ActionType, InvoiceStatus, ItemKind, ItemStatus, OrderStatus
from ..domain.transitions import check_transition
from ..observability import logger
from ..retry import retry_on_conflict
from . import activity, item_commands
from .ports import stores
from .workflow_contract import (
    FINAL_STEP,
    LABELS,
    WELCOME_STEP,
    WORKFLOW_ACTIONS,
    AcceptPayload,
    CancelPayload,
    Plan,
    ProvisionTask,
    RefundTask,
    TerminateTask,
    as_dict,
    provision_step,
    refund_step,
    terminate_step,
)
from .workflow_runtime import fail_action

# -- workflows ---------------------------------------------------------------------------------


def _machine_arn(action_type: ActionType) -> str:
    settings = get_settings()
    if action_type is ActionType.ACCEPT:
        arn, var = settings.accept_state_machine_arn, "ACCEPT_STATE_MACHINE_ARN"
    elif action_type is ActionType.ITEM_COMMAND:
        arn, var = settings.item_commands_state_machine_arn, "ITEM_COMMANDS_STATE_MACHINE_ARN"
    else:
        arn, var = settings.cancel_state_machine_arn, "CANCEL_STATE_MACHINE_ARN"
    if not arn:
        raise PermanentError(f"the {LABELS[action_type]} workflow is not configured ({var})")
    return arn


def action_id_for(order_id: str, action_type: ActionType, idempotency_key: str | None, caller: str = "",
                  body: dict[str, Any] | None = None) -> str:
    """A fresh id, or, for a caller's idempotency key, the same id for every repeat of that key by
    that caller with that body (SPEC §3): its first half names the order, the action, the caller
    and the key (`_key_part`), its second half the body. Another caller's key is another action;
    the same key with another body shares the first half only, which `_start_action_once`
    refuses (409), also long after the API's stored answers have expired."""
    if not idempotency_key:
        return new_id()
    return _key_part(order_id, action_type, idempotency_key, caller) + _digest(json.dumps(
        _body_of(body or {}), sort_keys=True, default=str))[:8]


def _key_part(order_id: str, action_type: ActionType, idempotency_key: str, caller: str) -> str:
    return _digest(json.dumps([order_id, action_type.value, caller, idempotency_key]))[:8]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _body_of(params: dict[str, Any]) -> dict[str, Any]:
    """What a start asked for, as its id covers it: every parameter but the key itself, and of a
    password only that one was given (an id is shown to viewers; a digest of a password is not
    for them to test guesses against)."""
    body = {k: v for k, v in params.items() if k != "idempotency_key"}
    if isinstance(body.get("items"), dict):
        body["items"] = {item_id: {k: (bool(v) if k == "password" else v) for k, v in (opts or {}).items()}
                         for item_id, opts in body["items"].items()}
    return body


def execution_name(order_id: str, action_type: ActionType, action_id: str) -> str:
    """Deterministic, at most 80 characters of [A-Za-z0-9-_] (Step Functions' rule)."""
    name = f"{order_id}-{action_type.value}-{action_id}"
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:80]


def start_action(order_id: str, action_type: ActionType, params: dict[str, Any], actor: str) -> Action:
    """Start a workflow action on an order and return it RUNNING (see `_start_action_once`);
    when the order or its invoice changed between the read and the lock, read and plan again."""
    seen: list[OrderStatus] = []  # the status the first read found: a retry acts on that one only
    return retry_on_conflict(lambda: _start_action_once(order_id, action_type, params, actor, seen), attempts=3)


def _unchanged(order: Order, seen: list[OrderStatus]) -> None:
    """A retry after a lost race reads the order again. If another action moved it meanwhile,
    that action won the race: this one is refused (409), not applied to a status its caller
    never saw (two racing actions never both take effect)."""
    if not seen:
        seen.append(order.status)
    elif order.status is not seen[0]:
        raise TransitionNotAllowed(
            f"order {order.id} changed from {seen[0].value} to {order.status.value} meanwhile; look again",
            current=order.status.value)


def _start_action_once(order_id: str, action_type: ActionType, params: dict[str, Any], actor: str,
                       seen: list[OrderStatus]) -> Action:
    """Check the transition, take the order's lock and record the action in one conditional
    transaction, then start the execution under a deterministic name.

    `params`: for accept, `items` ({item id: {server_id, username, password, registrar,
    run_module_create, send_to_registrar}}) and `send_welcome_email`; optional
    `idempotency_key` makes a repeat of the same start (same caller, same parameters) return the
    same action, and the key with other parameters a 409 (`action_id_for`). Passwords are
    encrypted onto their items here and go nowhere else (not the execution input, not the
    action record, not the logs)."""
    action_type = ActionType(action_type)
    if action_type not in WORKFLOW_ACTIONS:
        raise ValidationFailed(f"{action_type.value} is not a workflow action", {"action": "not a workflow action"})
    data = stores()
    order = data.orders.get_order(order_id)
    key = params.get("idempotency_key")
    action_id = action_id_for(order.id, action_type, key, actor, params)
    if key:
        earlier = next((a for a in order.actions if a.id == action_id), None)
        if earlier is not None:
            return earlier  # a repeat of a start that already happened
        if any(a.id[:8] == action_id[:8] for a in order.actions):
            raise IdempotencyConflict("this Idempotency-Key was used with another request body")
    if order.pending_action is not None:
        raise ActionInProgress.held_by(order.id, order.pending_action)
    _unchanged(order, seen)
    check_transition(action_type, order.status)
    machine = _machine_arn(action_type)
    actor_fields = {"order_id": order.id, "action_id": action_id, "action": action_type.value, "actor": actor}
    if action_type is ActionType.ACCEPT:
        plan = _plan_accept(order, params, actor_fields)
    elif action_type is ActionType.ITEM_COMMAND:
        plan = item_commands.plan(order, params, actor_fields)
    else:
        plan = _plan_cancel(order, action_type, actor_fields)
    name = execution_name(order.id, action_type, action_id)
    arn = workflows.execution_arn(machine, name)
    now = iso(utcnow())
    action = Action(id=action_id, order_id=order.id, type=action_type.value, status=ActionStatus.RUNNING,
                    steps=plan.steps, started_at=now, actor=actor, execution_arn=arn, params=plan.public_params)
    history = HistoryEntry(at=now, actor=actor, action=f"{LABELS[action_type]} started", from_=order.status.value,
                           to=None, detail=plan.summary, execution=arn)
    try:
        # guarded on the status as read and checked, not on every status the action may start
        # from: an order that moved meanwhile (say, set back to pending) is not acted on as if not
        data.actions.start_action(order, action, frozenset({order.status}), history)
    except (ActionInProgress, ConcurrentUpdate):
        if key:
            try:
                return data.actions.get_action(order.id, action_id)  # a concurrent repeat of this start won
            except NotFound:
                pass
        raise
    item_status = {i.id: i.status for i in order.items}
    try:
        for item_id, fields in plan.item_fields.items():
            data.writes.update_item(order.id, item_id, expect_status=item_status[item_id], **fields)
        started = workflows.start(machine, name, as_dict(plan.payload))
    except Exception as exc:
        # the workflow never started: nothing may keep the order locked
        reason = f"the workflow could not be started: {getattr(exc, 'message', None) or type(exc).__name__}"
        fail_action(order.id, action_id, reason, actor=actor)
        raise
    if started != arn:
        data.actions.set_lock_execution(order.id, action_id, started)
        action.execution_arn = started
    logger.info("action started", extra={"order_id": order.id, "action_id": action_id, "action": action_type.value,
                                         "execution": started})
    return action


def _plan_accept(order: Order, params: dict[str, Any], actor_fields: dict[str, str]) -> Plan:
    directory = stores().directory
    wanted: dict[str, Any] = params.get("items") or {}
    by_id = {i.id: i for i in order.items}
    errors: dict[str, str] = {}
    for item_id in wanted:
        if item_id not in by_id:
            errors[f"items.{item_id}"] = "not an item of this order"
    servers: dict[str, str] = {}
    for item_id, opts in wanted.items():
        item = by_id.get(item_id)
        if item is None:
            continue
        if item.kind is ItemKind.DOMAIN:
            for f in ("server_id", "username", "password"):
                if opts.get(f):
                    errors[f"items.{item_id}.{f}"] = "only products and addons run on a server"
        elif opts.get("registrar"):
            errors[f"items.{item_id}.registrar"] = "only domains have a registrar"
        server_id = opts.get("server_id")
        if server_id and server_id not in servers:
            try:
                servers[server_id] = directory.get_server(server_id).module
            except NotFound:
                errors[f"items.{item_id}.server_id"] = f"no server with id {server_id}"
    if errors:
        raise ValidationFailed("invalid accept request", errors)

    todo = [i for i in order.items if needs_provisioning(i)]
    steps = [ActionStep(name=provision_step(i), status="PENDING") for i in todo]
    send_email = bool(params.get("send_welcome_email", True))
    if send_email:
        steps.append(ActionStep(name=WELCOME_STEP, status="PENDING"))
    steps.append(ActionStep(name=FINAL_STEP[ActionType.ACCEPT], status="PENDING"))
    tasks: list[ProvisionTask] = []
    item_fields: dict[str, dict[str, Any]] = {}
    public_items: dict[str, Any] = {}
    for item in todo:
        opts = wanted.get(item.id) or {}
        tasks.append(ProvisionTask(item_id=item.id, step=provision_step(item),
                                   run_module_create=bool(opts.get("run_module_create", True)),
                                   send_to_registrar=bool(opts.get("send_to_registrar", True))))
        fields: dict[str, Any] = {}
        if opts.get("server_id"):
            fields["server_id"] = opts["server_id"]
            fields["module"] = servers[opts["server_id"]]
        if opts.get("username"):
            fields["username"] = opts["username"]
        if opts.get("registrar"):
            fields["registrar"] = opts["registrar"]
        if opts.get("password"):
            fields["password_enc"] = crypto.encrypt(opts["password"], crypto.item_context(order.id, item.id))
        if fields:
            item_fields[item.id] = fields
        public_items[item.id] = {k: v for k, v in opts.items() if k != "password"} | {
            "password_set": bool(opts.get("password"))}
    skipped = len(order.items) - len(todo)
    summary = f"{len(todo)} item(s) to provision" + (f", {skipped} with a live account or Active" if skipped else "")
    return Plan(steps=steps, payload=AcceptPayload(**actor_fields, items=tasks, send_welcome_email=send_email),
                 public_params={"items": public_items, "send_welcome_email": send_email}, summary=summary,
                 item_fields=item_fields)


def _plan_cancel(order: Order, action_type: ActionType, actor_fields: dict[str, str]) -> Plan:
    refund = action_type is ActionType.CANCEL_REFUND
    terminate = [i for i in order.items if has_live_service(i)]  # whatever its status
    payments: list[str] = []
    if refund and order.invoice is not None:
        done = order.invoice.refunded_payment_ids()
        payments = [t.id for t in order.invoice.transactions if t.type == "payment" and t.id not in done]
    steps = [ActionStep(name=terminate_step(i.id), status="PENDING") for i in terminate]
    steps.append(ActionStep(name="cancel_invoice", status="PENDING"))
    steps += [ActionStep(name=refund_step(p), status="PENDING") for p in payments]
    steps.append(ActionStep(name=FINAL_STEP[action_type], status="PENDING"))
    summary = f"{len(terminate)} item(s) to terminate" + (f", {len(payments)} payment(s) to refund" if refund else "")
    payload = CancelPayload(**actor_fields, items=[TerminateTask(item_id=i.id, step=terminate_step(i.id))
                                                   for i in terminate],
                            payments=[RefundTask(payment_id=p, step=refund_step(p)) for p in payments], refund=refund)
    return Plan(steps=steps, payload=payload, public_params={"refund": refund}, summary=summary)


def get_action(order_id: str, action_id: str) -> Action:
    return stores().actions.get_action(order_id, action_id)


def fail_stale_action(order_id: str, action_id: str, reason: str) -> None:
    """The lock sweep: stop the action's execution if it still runs, mark the action FAILED,
    release the order's lock, record why."""
    action = stores().actions.get_action(order_id, action_id)
    if action.execution_arn:
        try:
            workflows.stop(action.execution_arn, "LockSwept", reason)
        except Exception:  # noqa: BLE001 - the lock is released either way; the steps check it
            logger.exception("could not stop the execution of a stale action",
                             extra={"order_id": order_id, "action_id": action_id})
    fail_action(order_id, action_id, reason, actor="cleanup")


# -- direct actions ----------------------------------------------------------------------------


def back_to_pending(order_id: str, actor: str) -> Order:
    """Order and items back to `Pending`; no module command runs."""
    data = stores()
    seen: list[OrderStatus] = []

    def move() -> Order:
        order = data.orders.get_order(order_id)
        if order.pending_action is not None:
            raise ActionInProgress.held_by(order.id, order.pending_action)
        _unchanged(order, seen)
        check_transition(ActionType.PENDING, order.status)
        now = iso(utcnow())
        moved = [i for i in order.items if i.status is not ItemStatus.PENDING]
        history = [HistoryEntry(at=now, actor=actor, action="set back to pending", from_=order.status.value,
                                to=OrderStatus.PENDING.value, detail="no module command run")]
        if moved:
            history.append(HistoryEntry(
                at=now, actor=actor, action="items set back to pending", from_=None, to=ItemStatus.PENDING.value,
                detail="; ".join(f"{i.description} ({i.id}) {i.status.value}" for i in moved)[:2000]))
        invoice = reopened(order.invoice, now)
        if invoice is not None and order.invoice is not None:
            history.append(HistoryEntry(at=now, actor=actor, action="invoice re-opened", from_=order.invoice.status.value,
                                        to=invoice.status.value, detail=f"{invoice.id}: balance {invoice.balance}"))
        data.writes.apply(order, OrderChange(to_status=OrderStatus.PENDING, item_status=ItemStatus.PENDING,
                                             invoice=invoice, history=history))
        return data.orders.get_order(order_id)

    return retry_on_conflict(move, attempts=4)


def reopened(invoice: Invoice | None, now: str) -> Invoice | None:
    """A Cancelled or Refunded invoice of an order set back to pending, open again: its balance and
    status recomputed from its transactions (Unpaid while anything is due, Paid at zero), so it
    takes payments again. None when there is nothing to re-open."""
    if invoice is None or invoice.status not in (InvoiceStatus.CANCELLED, InvoiceStatus.REFUNDED):
        return None
    out = copy.deepcopy(invoice)
    out.balance = invoice.open_balance()
    out.status = InvoiceStatus.PAID if out.balance <= ZERO else InvoiceStatus.UNPAID
    out.date_paid = (invoice.date_paid or now) if out.status is InvoiceStatus.PAID else None
    return out


def delete_order(order_id: str, actor: str) -> None:
    """Remove the order, its items, invoice, notes, actions and history, irrevocably.

    That can exceed one transaction, so: lock the order with a `delete` pending action (from
    Cancelled or Fraud, no other action running), keep what the activity log's entry of it will
    say, delete its other records in batches, then the order record and its number guard in one
    transaction with that entry. A delete that died half-way leaves the lock; the next delete (or
    a retry) resumes it."""
    data = stores()
    order = data.orders.get_order_header(order_id)
    lock = order.pending_action
    if lock is None or lock.type != ActionType.DELETE.value:
        if lock is not None:
            raise ActionInProgress.held_by(order.id, lock)
        check_transition(ActionType.DELETE, order.status)
        now = iso(utcnow())
        action = Action(id=new_id(), order_id=order.id, type=ActionType.DELETE.value, status=ActionStatus.RUNNING,
                        steps=[ActionStep(name="delete_records", status="RUNNING")], started_at=now, actor=actor)
        history = HistoryEntry(at=now, actor=actor, action="delete started", from_=order.status.value, to=None)
        data.actions.start_action(order, action, frozenset({order.status}), history)
        order = data.orders.get_order_header(order_id)
    # the activity log's entry of the delete, from the order whole before any record of it goes
    kept = activity.keep_deletion(order.id, actor)
    deleted = data.orders.delete_order_children(order.id)
    try:
        data.orders.delete_order_record(order, activity.deletion_entry(kept))
    except ConcurrentUpdate:
        # a concurrent DELETE found this one's lock and went on with it (a lock of a delete is
        # resumed): if it removed the order first, this caller is told the order is gone (404),
        # as it would be a moment later, not "changed meanwhile"
        try:
            data.orders.get_order_header(order.id)
        except OrderNotFound:
            data.orders.delete_order_children(order.id)  # the final pass below, then 404
            raise
        raise
    # a note or history entry written while the first pass ran would outlive the order; once the
    # order record is gone nothing more can be written under it, so one more pass is final
    deleted += data.orders.delete_order_children(order.id)
    logger.info("order deleted", extra={"order_id": order.id, "records": deleted + 1, "actor": actor})
