"""The steps of the action workflows, one function per Lambda (`functions/step_*`).

Every step is idempotent, so Step Functions may retry it, and a new run of a failed action
finishes what was left without repeating what was done:

* it acts only while the order holds its action's lock (`LockLost` otherwise), and each item
  change is a conditional write from the status it read, together with its history entry;
* an item already past the step (provisioned, terminated) is skipped, not acted on again;
* a refund is made once per payment: Powertools idempotency keyed on the payment, the gateway's
  own idempotency key, and the invoice's refund transactions (`refund_of`) checked under the
  invoice's version guard.

Each step keeps its entry in the action's `steps` current (RUNNING, then SUCCEEDED or SKIPPED;
on an error, the error — FAILED when retrying will not help). Errors are raised, never
swallowed: the class name is the Step Functions error name that the ASL retries or catches."""

from __future__ import annotations

import json
import secrets as _random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from ..adapters import crypto as secrets  # encrypt/decrypt of write-only secrets
from ..adapters.aws import aws_errors_are_transient
from ..adapters.email import email_port
from ..adapters.gateways import gateway_for
from ..adapters.idempotency import once_per_key
from ..adapters.provisioning import Account, module_for
from ..adapters.registrars import DomainRequest, registrar_for
from ..adapters.repository import OrderChange, get_repository
from ..config import get_settings
from ..domain.errors import (
    ConcurrentUpdate,
    LockLost,
    NotFound,
    OrderDeskError,
    PermanentError,
    StepsFailed,
    TransientError,
)
from ..domain.model import HistoryEntry, Order, OrderItem, Server, Transaction, iso, new_id, utcnow
from ..domain.money import fmt
from ..domain.statuses import ActionStatus, ActionType, InvoiceStatus, ItemKind, ItemStatus, OrderStatus
from ..observability import logger
from .actions import FINAL_STEP, LABELS, TERMINABLE, fail_action, provision_step, refund_step, terminate_step


@dataclass(frozen=True)
class StepContext:
    order_id: str
    action_id: str
    action: ActionType
    actor: str
    execution: str | None

    @classmethod
    def of(cls, event: dict[str, Any]) -> StepContext:
        return cls(order_id=event["order_id"], action_id=event["action_id"], action=ActionType(event["action"]),
                   actor=event.get("actor") or "workflow", execution=event.get("execution"))

    def history(self, action: str, *, from_: str | None = None, to: str | None = None,
                detail: str | None = None) -> HistoryEntry:
        return HistoryEntry(at=iso(utcnow()), actor=self.actor, action=action, from_=from_, to=to,
                            detail=detail[:2000] if detail else None, execution=self.execution)


class _Outcome:
    def __init__(self) -> None:
        self.status = "SUCCEEDED"

    def skip(self) -> None:
        self.status = "SKIPPED"


def _mark(ctx: StepContext, name: str, status: str, error: str | None) -> None:
    from ..domain.model import ActionStep

    get_repository().set_action_step(ctx.order_id, ctx.action_id, ActionStep(name=name, status=status, error=error))


def _mark_quietly(ctx: StepContext, name: str, status: str, error: str | None) -> None:
    """Note an error on the step while the error itself propagates; if even that write fails,
    the original error still wins (and the workflow's Catch records the failure)."""
    try:
        _mark(ctx, name, status, error[:500] if error else None)
    except Exception:  # noqa: BLE001
        logger.warning("could not note a step's error", extra={"step": name, "action_id": ctx.action_id})


@contextmanager
def _step(ctx: StepContext, name: str) -> Iterator[_Outcome]:
    outcome = _Outcome()
    _mark(ctx, name, "RUNNING", None)
    try:
        yield outcome
    except (TransientError, ConcurrentUpdate) as exc:  # both retried by the state machines
        _mark_quietly(ctx, name, "RUNNING", f"{exc.message} (retrying)")
        raise
    except OrderDeskError as exc:
        _mark_quietly(ctx, name, "FAILED", exc.message)
        raise
    except Exception as exc:
        _mark_quietly(ctx, name, "RUNNING", f"{type(exc).__name__}: {str(exc)[:200]} (retrying)")
        raise
    _mark(ctx, name, outcome.status, None)


def _owned_order(ctx: StepContext) -> Order:
    order = get_repository().get_order(ctx.order_id)
    if order.pending_action is None or order.pending_action.action_id != ctx.action_id:
        raise LockLost(f"order {ctx.order_id} is no longer held by action {ctx.action_id}")
    return order


def _item(order: Order, item_id: str) -> OrderItem:
    for item in order.items:
        if item.id == item_id:
            return item
    raise PermanentError(f"item {item_id} is not on order {order.id}")


def _server(server_id: str | None) -> Server | None:
    if not server_id:
        return None
    try:
        return get_repository().get_server(server_id)
    except NotFound as exc:
        raise PermanentError(f"server {server_id} no longer exists") from exc


def _server_secret(server: Server) -> str | None:
    encrypted = get_repository().server_credentials(server.id)
    return secrets.decrypt(encrypted) if encrypted else None


def _item_text(item: OrderItem) -> str:
    return f"{item.domain or item.description} ({item.id})"


def _change_item(ctx: StepContext, item: OrderItem, to: ItemStatus, history: HistoryEntry,
                 **fields: Any) -> None:
    """Move one item from the status it was read in; a lost race is re-read and explained."""
    repo = get_repository()
    try:
        repo.change_item(ctx.order_id, item.id, expect_status=item.status,
                         fields={"status": to.value, "last_error": None, **fields}, history=history,
                         action_id=ctx.action_id)
    except ConcurrentUpdate:
        order = _owned_order(ctx)  # LockLost when the lock is gone
        now = _item(order, item.id).status
        if now is to:
            return  # a concurrent run of this very step got there first
        raise


# -- accept --------------------------------------------------------------------------------------


@aws_errors_are_transient
def provision_item(event: dict[str, Any]) -> dict[str, Any]:
    """Accept, per item: module create on its server (products, addons) or the registration or
    transfer at its registrar (domains); the item ends Active (a domain may wait in Pending
    Registration/Transfer for the registry)."""
    ctx = StepContext.of(event)
    opts = event["item"]
    item_id = opts["item_id"]
    order = _owned_order(ctx)
    item = _item(order, item_id)
    with _step(ctx, provision_step(item)) as outcome:
        if item.status is not ItemStatus.PENDING:
            outcome.skip()  # done by an earlier run: never provisioned twice
            return {"item_id": item_id, "status": item.status.value, "skipped": True}
        if item.kind is ItemKind.DOMAIN:
            to, detail = _register_domain(ctx, order, item, bool(opts.get("send_to_registrar", True)))
            action = "domain sent to registrar" if "registrar" in detail else "domain activated"
            _change_item(ctx, item, to, ctx.history(action, from_=item.status.value, to=to.value,
                                                    detail=f"{_item_text(item)}: {detail}"))
        else:
            detail, fields = _create_account(ctx, order, item, bool(opts.get("run_module_create", True)))
            _change_item(ctx, item, ItemStatus.ACTIVE,
                         ctx.history("item provisioned", from_=item.status.value, to=ItemStatus.ACTIVE.value,
                                     detail=f"{_item_text(item)}: {detail}"), **fields)
            to = ItemStatus.ACTIVE
    return {"item_id": item_id, "status": to.value}


def _create_account(ctx: StepContext, order: Order, item: OrderItem, run_create: bool) -> tuple[str, dict[str, Any]]:
    server = _server(item.server_id)
    if server is None:
        return "activated; no server, no module command", {}
    if not run_create:
        return f"activated on {server.name}; module create not requested", {}
    if server.module == "none":
        return f"activated on {server.name} (manual provisioning)", {}
    repo = get_repository()
    fields: dict[str, Any] = {}
    username = item.username
    if not username:
        username = f"u{item.id[:7]}"
        fields["username"] = username
    encrypted = repo.item_password(ctx.order_id, item.id)
    if encrypted is None and server.module == "cpanel":
        # chosen once and stored (encrypted) before use, so a retry creates the same account
        encrypted = secrets.encrypt(_random.token_urlsafe(18))
        repo.update_item(ctx.order_id, item.id, expect_status=ItemStatus.PENDING, password_enc=encrypted,
                         username=username)
        fields.pop("username", None)
    account = Account(
        order_id=order.id, item_id=item.id, product=item.description, billing_cycle=item.billing_cycle,
        username=username, password=secrets.decrypt(encrypted) if encrypted else None,
        domain=item.domain or _first_domain(order), client_id=order.client.id, client_name=order.client.name,
        client_email=order.client.email,
    )
    module_for(server, _server_secret(server)).create(account)
    return f"account {username} created on {server.name} ({server.module})", fields


def _first_domain(order: Order) -> str | None:
    return next((i.domain for i in order.items if i.kind is ItemKind.DOMAIN and i.domain), None)


def _register_domain(ctx: StepContext, order: Order, item: OrderItem, send: bool) -> tuple[ItemStatus, str]:
    if not send:
        return ItemStatus.ACTIVE, "activated; not sent to a registrar"
    if not item.registrar or item.registrar == "none":
        return ItemStatus.ACTIVE, "activated (no registrar: manual registration)"
    result = registrar_for(item.registrar).submit(DomainRequest(
        order_id=order.id, item_id=item.id, domain=item.domain or "", registration_type=item.registration_type
        or "register", period_years=item.period_years or 1, client_id=order.client.id,
        client_name=order.client.name, client_email=order.client.email))
    if result.active:
        return ItemStatus.ACTIVE, f"{item.registration_type or 'register'} done at registrar {item.registrar}"
    waiting = ItemStatus.PENDING_TRANSFER if item.registration_type == "transfer" else ItemStatus.PENDING_REGISTRATION
    ref = f" (reference {result.reference})" if result.reference else ""
    return waiting, f"sent to registrar {item.registrar}{ref}; waiting for the registry"


WELCOME_SENT = "welcome email sent"


@aws_errors_are_transient
def send_welcome_email(event: dict[str, Any]) -> dict[str, Any]:
    """Accept: one welcome email per order (never a second one: its history says it was sent)."""
    ctx = StepContext.of(event)
    with _step(ctx, "welcome_email") as outcome:
        order = _owned_order(ctx)
        if any(h.action == WELCOME_SENT for h in order.history) or not order.client.email:
            outcome.skip()
            return {"sent": False}
        message = _welcome_message(order)
        ref = email_port().send(message, key=f"welcome-{order.id}")
        get_repository().add_history(order.id, ctx.history(WELCOME_SENT, detail=f"to {order.client.email} ({ref})"))
    return {"sent": True}


def _welcome_message(order: Order) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = get_settings().email_from
    msg["To"] = order.client.email
    msg["Subject"] = f"Your order #{order.number} is active"
    lines = [f"Hello {order.client.name},", "", f"Your order #{order.number} has been accepted:", ""]
    for item in order.items:
        what = item.domain or item.description
        extra = f" - username {item.username}" if item.username else ""
        lines.append(f"  * {what}{extra}")
    lines += ["", "Passwords are never sent by email: use the one you chose, or reset it.", "", "Thank you."]
    msg.set_content("\n".join(lines))
    return msg


# -- cancel, cancel & refund, fraud --------------------------------------------------------------


@aws_errors_are_transient
def terminate_item(event: dict[str, Any]) -> dict[str, Any]:
    """Cancel/Fraud, per active product: module terminate (account removed from its server), then
    the item goes to Cancelled (or Fraud) at once, so a rerun never terminates it again."""
    ctx = StepContext.of(event)
    item_id = event["item"]["item_id"]
    final = ItemStatus.FRAUD if ctx.action is ActionType.FRAUD else ItemStatus.CANCELLED
    with _step(ctx, terminate_step(item_id)) as outcome:
        order = _owned_order(ctx)
        item = _item(order, item_id)
        if item.status not in TERMINABLE:
            outcome.skip()
            return {"item_id": item_id, "status": item.status.value, "skipped": True}
        server = _server(item.server_id)
        if server is None or server.module == "none":
            detail = "no module command (manual)"
        else:
            account = Account(
                order_id=order.id, item_id=item.id, product=item.description, billing_cycle=item.billing_cycle,
                username=item.username, password=None, domain=item.domain or _first_domain(order),
                client_id=order.client.id, client_name=order.client.name, client_email=order.client.email)
            module_for(server, _server_secret(server)).terminate(account)
            detail = f"account {item.username or ''} removed from {server.name} ({server.module})"
        _change_item(ctx, item, final, ctx.history("item terminated", from_=item.status.value, to=final.value,
                                                   detail=f"{_item_text(item)}: {detail}"))
    return {"item_id": item_id, "status": final.value}


@aws_errors_are_transient
def cancel_invoice(event: dict[str, Any]) -> dict[str, Any]:
    """Cancel/Cancel & Refund/Fraud: the invoice goes to Cancelled (a Refunded one stays so)."""
    ctx = StepContext.of(event)
    repo = get_repository()
    with _step(ctx, "cancel_invoice") as outcome:
        order = _owned_order(ctx)
        for attempt in range(5):
            invoice, version = repo.get_invoice_versioned(order.invoice_id)
            if invoice.status in (InvoiceStatus.CANCELLED, InvoiceStatus.REFUNDED):
                outcome.skip()
                return {"invoice_status": invoice.status.value}
            before = invoice.status
            invoice.status = InvoiceStatus.CANCELLED
            try:
                repo.save_invoice(invoice, version, ctx.history("invoice cancelled", from_=before.value,
                                                                to=InvoiceStatus.CANCELLED.value, detail=invoice.id))
                break
            except ConcurrentUpdate:
                if attempt == 4:
                    raise
    return {"invoice_status": InvoiceStatus.CANCELLED.value}


REFUND_SCOPE = "refund"


def refund_key(invoice_id: str, payment_id: str) -> str:
    """The gateway's idempotency key for the one refund of one payment."""
    return f"orderdesk-refund-{invoice_id}-{payment_id}"


@aws_errors_are_transient
def refund_payment(event: dict[str, Any], lambda_context: Any = None) -> dict[str, Any]:
    """Cancel & Refund, per payment: refund it through the gateway that took it, once."""
    ctx = StepContext.of(event)
    payment_id = event["payment"]["payment_id"]
    with _step(ctx, refund_step(payment_id)) as outcome:
        order = _owned_order(ctx)
        key = {"invoice_id": order.invoice_id, "payment_id": payment_id}
        result = once_per_key(REFUND_SCOPE, key, lambda data: _refund_once(ctx, data), lambda_context=lambda_context)
        if result.get("repeat"):
            outcome.skip()
    return {"payment_id": payment_id, "refund_id": result["refund_id"]}


def _refund_once(ctx: StepContext, data: dict[str, Any]) -> dict[str, Any]:
    repo = get_repository()
    invoice, version = repo.get_invoice_versioned(data["invoice_id"])
    payment = next((t for t in invoice.transactions if t.type == "payment" and t.id == data["payment_id"]), None)
    if payment is None:
        raise PermanentError(f"payment {data['payment_id']} is not on invoice {invoice.id}")

    def recorded() -> Transaction | None:
        return next((t for t in invoice.transactions if t.type == "refund" and t.refund_of == payment.id), None)

    done = recorded()
    if done is not None:
        return {"refund_id": done.id, "transaction_id": done.transaction_id, "repeat": True}
    gateway = gateway_for(payment.gateway, client_id=invoice.client_id, currency=invoice.currency)
    refund = gateway.refund(payment, payment.amount, refund_key(invoice.id, payment.id))
    for attempt in range(8):
        if attempt:
            invoice, version = repo.get_invoice_versioned(data["invoice_id"])
            done = recorded()
            if done is not None:
                return {"refund_id": done.id, "transaction_id": done.transaction_id, "repeat": True}
        txn = Transaction(id=new_id(), type="refund", gateway=refund.gateway, transaction_id=refund.transaction_id,
                          amount=payment.amount, at=iso(utcnow()), refund_of=payment.id)
        invoice.transactions.append(txn)
        note = f"; {refund.note}" if refund.note else ""
        history = ctx.history("payment refunded", detail=(
            f"{fmt(payment.amount)} {invoice.currency} of {payment.gateway} payment {payment.transaction_id}: "
            f"refund {refund.transaction_id}{note}"))
        try:
            repo.save_invoice(invoice, version, history, sync_order_status=False,
                              extra=[refund.apply] if refund.apply else ())
            return {"refund_id": txn.id, "transaction_id": txn.transaction_id}
        except ConcurrentUpdate:
            continue  # another write to the invoice (a parallel refund): read it again
    raise ConcurrentUpdate(f"invoice {invoice.id} kept changing while recording a refund")


# -- checkpoints, the end, failure -----------------------------------------------------------------


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


@aws_errors_are_transient
def checkpoint(event: dict[str, Any]) -> dict[str, Any]:
    """After a Map: every failed item or payment gets its error on its step (and the item its
    `last_error`); if any failed, `StepsFailed` ends the action (nothing further runs)."""
    ctx = StepContext.of(event)
    repo = get_repository()
    results: list[dict[str, Any]] = event.get("results") or []
    failed = [r for r in results if r.get("error")]
    if not failed:
        return {"ok": len(results)}
    action = repo.get_action(ctx.order_id, ctx.action_id)
    reasons = []
    for r in failed:
        text = error_text(r["error"])
        ref = r.get("item_id") or r.get("payment_id") or "?"
        reasons.append(f"{ref}: {text}")
        for step in action.steps:
            if step.name.endswith(f":{ref}"):
                _mark(ctx, step.name, "FAILED", text[:500])
        if r.get("item_id"):
            try:
                repo.update_item(ctx.order_id, r["item_id"], last_error=text[:500])
            except ConcurrentUpdate:
                pass  # the item is gone with its order: nothing to annotate
    noun = "payment(s)" if failed[0].get("payment_id") else "item(s)"
    raise StepsFailed(f"{len(failed)} of {len(results)} {noun} failed: " + "; ".join(reasons)[:800])


@aws_errors_are_transient
def finish(event: dict[str, Any]) -> dict[str, Any]:
    """The end of a successful run: the order (and the items still to move) to the action's
    status, the invoice to Refunded for Cancel & Refund, the lock released, the action
    SUCCEEDED — one transaction."""
    ctx = StepContext.of(event)
    repo = get_repository()
    name = FINAL_STEP[ctx.action]
    if repo.get_action(ctx.order_id, ctx.action_id).status is ActionStatus.SUCCEEDED:
        # a retry of a finish whose transaction committed (its invocation died after): done, and
        # neither its step set back to RUNNING nor the execution failed on the lock it released
        return {"order_status": repo.get_order_header(ctx.order_id).status.value}
    _mark(ctx, name, "RUNNING", None)
    for attempt in range(6):
        order = _owned_order(ctx)
        action = repo.get_action(ctx.order_id, ctx.action_id)
        now = iso(utcnow())
        action.status = ActionStatus.SUCCEEDED
        action.finished_at = now
        action.error = None
        for step in action.steps:
            if step.name == name:
                step.status, step.error = "SUCCEEDED", None
        change = _final_change(ctx, order, now)
        try:
            repo.end_action(order, change, action)
            break
        except ConcurrentUpdate:
            if attempt == 5:
                raise
    return {"order_status": (change.to_status or order.status).value}


def _final_change(ctx: StepContext, order: Order, now: str) -> OrderChange:
    label = LABELS[ctx.action]
    if ctx.action is ActionType.ACCEPT:
        target, item_target, invoice_target = OrderStatus.ACTIVE, None, None
    elif ctx.action is ActionType.FRAUD:
        target, item_target, invoice_target = OrderStatus.FRAUD, ItemStatus.FRAUD, None
    else:
        target, item_target = OrderStatus.CANCELLED, ItemStatus.CANCELLED
        invoice_target = InvoiceStatus.REFUNDED if ctx.action is ActionType.CANCEL_REFUND else None
    if invoice_target is not None and (order.invoice is None or order.invoice.status is invoice_target):
        invoice_target = None
    history = [HistoryEntry(at=now, actor=ctx.actor, action=f"{label} done", from_=order.status.value,
                            to=target.value, execution=ctx.execution)]
    if item_target is not None:
        moved = [i for i in order.items if i.status is not item_target]
        if moved:
            history.append(HistoryEntry(at=now, actor=ctx.actor, action="items updated", from_=None,
                                        to=item_target.value, execution=ctx.execution,
                                        detail="; ".join(f"{_item_text(i)} was {i.status.value}" for i in moved)[:2000]))
    if invoice_target is not None and order.invoice is not None:
        history.append(HistoryEntry(at=now, actor=ctx.actor, action="invoice refunded",
                                    from_=order.invoice.status.value, to=invoice_target.value,
                                    detail=order.invoice.id, execution=ctx.execution))
    return OrderChange(to_status=target, item_status=item_target, invoice_status=invoice_target, history=history,
                       clear_lock=True)


@aws_errors_are_transient
def record_failure(event: dict[str, Any]) -> dict[str, Any]:
    """Catch-all of a workflow: the action FAILED with the error, the order's lock released; the
    order stays as the steps left it (each item shows its own status and last error)."""
    ctx = StepContext.of(event)
    reason = error_text(event.get("failure"))
    action = fail_action(ctx.order_id, ctx.action_id, reason, actor=ctx.actor, execution=ctx.execution)
    logger.warning("action failed", extra={"order_id": ctx.order_id, "action_id": ctx.action_id, "error": reason})
    return {"status": action.status.value, "error": action.error}
