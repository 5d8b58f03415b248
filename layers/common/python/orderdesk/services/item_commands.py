"""Module commands on chosen items of an order (the order details page): create, suspend,
unsuspend, terminate, register — a workflow under the order's lock like the other actions
(infra/statemachines/item_commands.asl.json: a Map over the items, each command retried, a failed
item shown with its error, a rerun doing only what is left). Allowed on an order of any status;
each item's own state decides (`domain.items.check_command`).

`plan` is what `actions.start_action` asks of it; `run_item_command` is the step
(`functions/step_item_command`)."""

from __future__ import annotations

from typing import Any

from ..adapters.aws import aws_errors_are_transient
from ..domain.errors import TransitionNotAllowed, ValidationFailed
from ..domain.items import COMMANDS, check_command, has_live_service
from ..domain.model import ActionStep, Order, OrderItem
from ..domain.statuses import ActionStatus, ActionType, ItemStatus
from . import module_commands
from .workflow_contract import (
    FINAL_STEP,
    ItemCommandInput,
    ItemCommandPayload,
    ItemCommandTask,
    ItemResult,
    Plan,
    as_dict,
    command_step,
)
from .workflow_runtime import change_item, item_of, item_text, owned_order, step

# who may ask which command (the route lets support in; these need billing)
BILLING_COMMANDS = frozenset({"suspend", "unsuspend", "terminate"})


def plan(order: Order, params: dict[str, Any], actor_fields: dict[str, str]) -> Plan:
    """Check every asked item (an item of another order: 400; a state that does not allow the
    command: 409 with the reason) and plan one step per item."""
    command = params.get("command")
    item_ids: list[str] = list(dict.fromkeys(params.get("item_ids") or []))
    if command not in COMMANDS:
        raise ValidationFailed("unknown command", {"command": f"one of {', '.join(COMMANDS)}"})
    by_id = {i.id: i for i in order.items}
    foreign = [i for i in item_ids if i not in by_id]
    if not item_ids or foreign:
        raise ValidationFailed("invalid item command", {"item_ids": f"not items of this order: {', '.join(foreign)}"
                                                        if foreign else "name at least one item"})
    rerun = _done_by_last_failed_run(order, command)
    refused = []
    for item_id in item_ids:
        if command_step(command, item_id) in rerun and _already_done(by_id[item_id], command):
            continue  # a rerun of a failed run: what it did is skipped, the rest runs
        try:
            check_command(by_id[item_id], command)
        except TransitionNotAllowed as exc:
            refused.append(exc.message)
    if refused:
        raise TransitionNotAllowed("; ".join(refused)[:1000], command=command)
    tasks = [ItemCommandTask(item_id=i, step=command_step(command, i), command=command) for i in item_ids]
    steps = [ActionStep(name=t.step, status="PENDING") for t in tasks]
    steps.append(ActionStep(name=FINAL_STEP[ActionType.ITEM_COMMAND], status="PENDING"))
    return Plan(steps=steps, payload=ItemCommandPayload(**actor_fields, command=command, items=tasks),
                public_params={"command": command, "item_ids": item_ids},
                summary=f"{command} on {len(item_ids)} item(s)")


def _done_by_last_failed_run(order: Order, command: str) -> set[str]:
    """The steps the last run of this command on the order did, when that run failed."""
    runs = [a for a in order.actions if a.type == ActionType.ITEM_COMMAND.value and a.params.get("command") == command]
    last = runs[-1] if runs else None
    if last is None or last.status is not ActionStatus.FAILED:
        return set()
    return {step.name for step in last.steps if step.status == "SUCCEEDED"}


def _already_done(item: OrderItem, command: str) -> bool:
    """A rerun does only what is left: the command's effect is there already."""
    return {
        "create": has_live_service(item),
        "suspend": item.status is ItemStatus.SUSPENDED,
        "unsuspend": item.status is ItemStatus.ACTIVE and not item.last_error,
        "terminate": not has_live_service(item),
        "register": item.status is ItemStatus.ACTIVE,
    }.get(command, False)


@aws_errors_are_transient
def run_item_command(event: dict[str, Any]) -> dict[str, Any]:
    """One item's command: the module (or registrar) acts, then the item records what it became
    with the step's history entry, at once."""
    inp = ItemCommandInput.parse(event)
    task = inp.item
    order = owned_order(inp)
    item = item_of(order, task.item_id)
    with step(inp, task.step) as outcome:
        if _already_done(item, task.command):
            outcome.skip()
            return as_dict(ItemResult(item_id=item.id, step=task.step, status=item.status.value, skipped=True))
        check_command(item, task.command)  # the item changed since the start: refused, with why
        if task.command == "create":
            done = module_commands.create(inp, order, item)
        elif task.command == "register":
            done = module_commands.register(order, item)
        elif task.command == "suspend":
            done = module_commands.suspend(inp, order, item)
        elif task.command == "unsuspend":
            done = module_commands.unsuspend(inp, order, item)
        else:
            done = module_commands.terminate(inp, order, item, ItemStatus.TERMINATED)
        change_item(inp, item, done.status, inp.history(f"item {task.command}", from_=item.status.value,
                                                        to=done.status.value,
                                                        detail=f"{item_text(item)}: {done.detail}"), **done.fields)
    return as_dict(ItemResult(item_id=item.id, step=task.step, status=done.status.value))
