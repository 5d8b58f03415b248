"""The steps of the Accept workflow (infra/statemachines/accept_order.asl.json), one per Lambda
(`functions/step_provision_item`, `functions/step_welcome_email`); it ends with
`workflow_runtime.finish`.

An item already past its step (provisioned by an earlier run) is skipped, never provisioned twice;
an account's password is chosen once and stored encrypted before the module runs, so a retry
creates the same account."""

from __future__ import annotations

import secrets as _random
from email.message import EmailMessage
from typing import Any

from ..adapters import crypto
from ..adapters.aws import aws_errors_are_transient
from ..adapters.email import email_port
from ..adapters.provisioning import Account, module_for
from ..adapters.registrars import DomainRequest, registrar_for
from ..config import get_settings
from ..domain.model import Order, OrderItem
from ..domain.statuses import ItemKind, ItemStatus
from .ports import stores
from .workflow_contract import WELCOME_STEP, ItemResult, ProvisionInput, StepDone, StepInput, as_dict
from .workflow_runtime import change_item, item_of, item_text, owned_order, server_of, step

WELCOME_SENT = "welcome email sent"


@aws_errors_are_transient
def provision_item(event: dict[str, Any]) -> dict[str, Any]:
    """Per item: module create on its server (products, addons) or the registration or transfer at
    its registrar (domains); the item ends Active (a domain may wait in Pending Registration/
    Transfer for the registry)."""
    inp = ProvisionInput.parse(event)
    task = inp.item
    order = owned_order(inp)
    item = item_of(order, task.item_id)
    with step(inp, task.step) as outcome:
        if item.status is not ItemStatus.PENDING:
            outcome.skip()  # done by an earlier run: never provisioned twice
            return as_dict(ItemResult(item_id=item.id, step=task.step, status=item.status.value, skipped=True))
        if item.kind is ItemKind.DOMAIN:
            to, detail = _register_domain(order, item, task.send_to_registrar)
            action = "domain sent to registrar" if "registrar" in detail else "domain activated"
            change_item(inp, item, to, inp.history(action, from_=item.status.value, to=to.value,
                                                   detail=f"{item_text(item)}: {detail}"))
        else:
            to = ItemStatus.ACTIVE
            detail, fields = _create_account(inp, order, item, task.run_module_create)
            change_item(inp, item, to, inp.history("item provisioned", from_=item.status.value, to=to.value,
                                                   detail=f"{item_text(item)}: {detail}"), **fields)
    return as_dict(ItemResult(item_id=item.id, step=task.step, status=to.value))


def _create_account(inp: StepInput, order: Order, item: OrderItem, run_create: bool) -> tuple[str, dict[str, Any]]:
    found = server_of(item.server_id)
    if found is None:
        return "activated; no server, no module command", {}
    server, credentials = found
    if not run_create:
        return f"activated on {server.name}; module create not requested", {}
    if server.module == "none":
        return f"activated on {server.name} (manual provisioning)", {}
    data = stores()
    fields: dict[str, Any] = {}
    username = item.username
    if not username:
        username = f"u{item.id[:7]}"
        fields["username"] = username
    encrypted = data.orders.item_password(inp.order_id, item.id)
    if encrypted is None and server.module == "cpanel":
        # chosen once and stored (encrypted) before use, so a retry creates the same account
        encrypted = crypto.encrypt(_random.token_urlsafe(18))
        data.writes.update_item(inp.order_id, item.id, expect_status=ItemStatus.PENDING, password_enc=encrypted,
                                username=username)
        fields.pop("username", None)
    account = Account(
        order_id=order.id, item_id=item.id, product=item.description, billing_cycle=item.billing_cycle,
        username=username, password=crypto.decrypt(encrypted) if encrypted else None,
        domain=item.domain or first_domain(order), client_id=order.client.id, client_name=order.client.name,
        client_email=order.client.email,
    )
    module_for(server, credentials).create(account)
    return f"account {username} created on {server.name} ({server.module})", fields


def first_domain(order: Order) -> str | None:
    return next((i.domain for i in order.items if i.kind is ItemKind.DOMAIN and i.domain), None)


def _register_domain(order: Order, item: OrderItem, send: bool) -> tuple[ItemStatus, str]:
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


@aws_errors_are_transient
def send_welcome_email(event: dict[str, Any]) -> dict[str, Any]:
    """One welcome email per order (never a second one: its history says it was sent)."""
    inp = StepInput.parse(event)
    with step(inp, WELCOME_STEP) as outcome:
        order = owned_order(inp)
        if any(h.action == WELCOME_SENT for h in order.history) or not order.client.email:
            outcome.skip()
            return as_dict(StepDone(outcome="not sent"))
        ref = email_port().send(_welcome_message(order), key=f"welcome-{order.id}")
        stores().writes.add_history(order.id, inp.history(WELCOME_SENT, detail=f"to {order.client.email} ({ref})"))
    return as_dict(StepDone(outcome="sent"))


def _welcome_message(order: Order) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = get_settings().email_from
    msg["To"] = order.client.email
    msg["Subject"] = f"Your order #{order.number} is active"
    lines = [f"Hello {order.client.name},", "", f"Your order #{order.number} has been accepted:", ""]
    for item in order.items:
        extra = f" - username {item.username}" if item.username else ""
        lines.append(f"  * {item.domain or item.description}{extra}")
    lines += ["", "Passwords are never sent by email: use the one you chose, or reset it.", "", "Thank you."]
    msg.set_content("\n".join(lines))
    return msg
