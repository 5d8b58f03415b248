"""The steps of the Accept workflow (infra/statemachines/accept_order.asl.json), one per Lambda
(`functions/step_provision_item`, `functions/step_welcome_email`); it ends with
`workflow_runtime.finish`.

Accept provisions every item with no live account that is not Active (`domain.items`); an item
already past its step (provisioned by an earlier run) is skipped, never provisioned twice. What a
command does to an item is `module_commands`'s."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from ..adapters.aws import aws_errors_are_transient
from ..adapters.email import email_port
from ..config import get_settings
from ..domain.items import needs_provisioning
from ..domain.model import Order, OrderItem
from ..domain.statuses import ItemKind
from . import module_commands
from .ports import stores
from .workflow_contract import WELCOME_STEP, ItemResult, ProvisionInput, StepDone, StepInput, as_dict, provision_step
from .workflow_runtime import change_item, item_of, item_text, owned_order, step

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
        if not needs_provisioning(item):
            outcome.skip()  # done by an earlier run: never provisioned twice
            return as_dict(ItemResult(item_id=item.id, step=task.step, status=item.status.value, skipped=True))
        if item.kind is ItemKind.DOMAIN:
            done = module_commands.register(order, item, task.send_to_registrar)
            action = "domain sent to registrar" if "registrar" in done.detail else "domain activated"
        else:
            done = module_commands.create(inp, order, item, task.run_module_create)
            action = "item provisioned"
        change_item(inp, item, done.status, inp.history(action, from_=item.status.value, to=done.status.value,
                                                        detail=f"{item_text(item)}: {done.detail}"), **done.fields)
    return as_dict(ItemResult(item_id=item.id, step=task.step, status=done.status.value))


@aws_errors_are_transient
def send_welcome_email(event: dict[str, Any]) -> dict[str, Any]:
    """The welcome email of an Accept, listing exactly the items this Accept provisioned; none
    provisioned, no email. Once per Accept (its history entry names the action)."""
    inp = StepInput.parse(event)
    with step(inp, WELCOME_STEP) as outcome:
        order = owned_order(inp)
        sent = any(h.action == WELCOME_SENT and f"action {inp.action_id}" in (h.detail or "") for h in order.history)
        items = provisioned_by(order, inp.action_id)
        if sent or not items or not order.client.email:
            outcome.skip()
            return as_dict(StepDone(outcome="not sent"))
        ref = email_port().send(welcome_message(order, items), key=f"welcome-{order.id}-{inp.action_id}")
        stores().writes.add_history(order.id, inp.history(
            WELCOME_SENT, detail=f"to {order.client.email} ({ref}): {len(items)} item(s); action {inp.action_id}"))
    return as_dict(StepDone(outcome="sent"))


def provisioned_by(order: Order, action_id: str) -> list[OrderItem]:
    """The items an action provisioned (their provision step SUCCEEDED, not skipped)."""
    action = next((a for a in order.actions if a.id == action_id), None)
    done = {s.name for s in action.steps if s.status == "SUCCEEDED"} if action else set()
    return [i for i in order.items if provision_step(i) in done]


def welcome_message(order: Order, items: list[OrderItem]) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = get_settings().email_from
    msg["To"] = order.client.email
    msg["Subject"] = f"Your order #{order.number} is active"
    lines = [f"Hello {order.client.name},", "", f"Your order #{order.number} has been accepted:", ""]
    for item in items:
        extra = f" - username {item.username}" if item.username else ""
        lines.append(f"  * {item.domain or item.description}{extra}")
    lines += ["", "Passwords are never sent by email: use the one you chose, or reset it.", "", "Thank you."]
    msg.set_content("\n".join(lines))
    return msg
