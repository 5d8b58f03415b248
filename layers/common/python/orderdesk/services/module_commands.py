"""What a module command does to one item, whoever asks it: Accept (create, register), Cancel and
Set as Fraud (terminate), and the per-item commands of the order details page (all five). Each
returns what the item becomes; the caller writes it with the step's history entry, at once.

An item's account is recorded apart from its status (`ServiceAccount.exists`): only a command
that a module ran on a server changes it (manual provisioning — no server, or the `none` module —
leaves no account for OrderDesk to track)."""

from __future__ import annotations

import secrets as _random
from dataclasses import dataclass, field
from typing import Any

from ..adapters import crypto
from ..adapters.provisioning import Account, module_for
from ..adapters.registrars import DomainRequest, registrar_for
from ..domain.model import DomainRegistration, Order, OrderItem, RegistrationState, Server, iso, utcnow
from ..domain.statuses import ItemKind, ItemStatus
from .ports import stores
from .workflow_contract import StepInput
from .workflow_runtime import server_of


@dataclass
class ItemOutcome:
    status: ItemStatus
    detail: str
    fields: dict[str, Any] = field(default_factory=dict)  # item fields written with the status


def first_domain(order: Order) -> str | None:
    return next((i.domain for i in order.items if i.kind is ItemKind.DOMAIN and i.domain), None)


def _account(order: Order, item: OrderItem, command: str, username: str | None, password: str | None) -> Account:
    """What the module acts on, with this command's number among the item's commands of its kind
    (the receiver's idempotency key: a rerun of a command not done repeats it, the next is new)."""
    return Account(order_id=order.id, item_id=item.id, product=item.description, billing_cycle=item.billing_cycle,
                   username=username, password=password, domain=item.domain or first_domain(order),
                   client_id=order.client.id, client_name=order.client.name, client_email=order.client.email,
                   command_id=str(item.commands.get(command, 0) + 1))


def done(item: OrderItem, command: str) -> dict[str, int]:
    """The item's command counts with this one done (written with the command's outcome)."""
    return {**item.commands, command: item.commands.get(command, 0) + 1}


def _managed(item: OrderItem) -> tuple[Server, str | None] | None:
    """The item's server and credentials when a module manages its account; None when manual."""
    found = server_of(item.server_id)
    if found is None or found[0].module == "none":
        return None
    return found


def create(inp: StepInput, order: Order, item: OrderItem, run_create: bool = True) -> ItemOutcome:
    """Create the item's account on its server (products and addons): the item Active, its account
    live. No server, the manual module or no create asked: Active with no account to track."""
    found = server_of(item.server_id)
    if found is None:
        return ItemOutcome(ItemStatus.ACTIVE, "activated; no server, no module command")
    server, credentials = found
    if not run_create:
        return ItemOutcome(ItemStatus.ACTIVE, f"activated on {server.name}; module create not requested")
    if server.module == "none":
        return ItemOutcome(ItemStatus.ACTIVE, f"activated on {server.name} (manual provisioning)")
    data = stores()
    fields: dict[str, Any] = {"account_exists": True, "commands": done(item, "create")}
    username = item.username
    if not username:
        username = f"u{item.id[:7]}"
        fields["username"] = username
    encrypted = data.orders.item_password(inp.order_id, item.id)
    context = crypto.item_context(inp.order_id, item.id)
    if encrypted is None and server.module == "cpanel":
        # chosen once and stored (encrypted) before use, so a retry creates the same account
        encrypted = crypto.encrypt(_random.token_urlsafe(18), context)
        data.writes.update_item(inp.order_id, item.id, expect_status=item.status, password_enc=encrypted,
                                username=username)
        fields.pop("username", None)
    password = crypto.decrypt(encrypted, context) if encrypted else None
    module_for(server, credentials).create(_account(order, item, "create", username, password))
    return ItemOutcome(ItemStatus.ACTIVE, f"account {username} created on {server.name} ({server.module})", fields)


def register(order: Order, item: OrderItem, send: bool = True) -> ItemOutcome:
    """Send a domain to its registrar: Active when the registrar says done, else waiting (Pending
    Registration or Transfer) with its registration pending since now."""
    now = iso(utcnow())
    if not send:
        return ItemOutcome(ItemStatus.ACTIVE, "activated; not sent to a registrar")
    if not item.registrar or item.registrar == "none":
        return ItemOutcome(ItemStatus.ACTIVE, "activated (no registrar: manual registration)")
    result = registrar_for(item.registrar).submit(DomainRequest(
        order_id=order.id, item_id=item.id, domain=item.domain or "", registration_type=item.registration_type
        or "register", period_years=item.period_years or 1, client_id=order.client.id,
        client_name=order.client.name, client_email=order.client.email))
    kind = item.registration_type or "register"
    if result.active:
        reg = DomainRegistration(state=RegistrationState.ACTIVE, reference=result.reference, since=now)
        return ItemOutcome(ItemStatus.ACTIVE, f"{kind} done at registrar {item.registrar}",
                           {"registration": reg})
    waiting = ItemStatus.PENDING_TRANSFER if item.registration_type == "transfer" else ItemStatus.PENDING_REGISTRATION
    reg = DomainRegistration(state=RegistrationState.PENDING, reference=result.reference, since=now)
    ref = f" (reference {result.reference})" if result.reference else ""
    return ItemOutcome(waiting, f"sent to registrar {item.registrar}{ref}; waiting for the registry",
                       {"registration": reg})


def terminate(inp: StepInput, order: Order, item: OrderItem, to: ItemStatus) -> ItemOutcome:
    """Remove the item's account from its server: the account no longer live, the item `to`."""
    found = _managed(item)
    if found is None:
        return ItemOutcome(to, "no module command (manual)", {"account_exists": False})
    server, credentials = found
    module_for(server, credentials).terminate(_account(order, item, "terminate", item.username, None))
    return ItemOutcome(to, f"account {item.username or ''} removed from {server.name} ({server.module})",
                       {"account_exists": False, "commands": done(item, "terminate")})


def suspend(inp: StepInput, order: Order, item: OrderItem) -> ItemOutcome:
    found = _managed(item)
    if found is None:
        return ItemOutcome(ItemStatus.SUSPENDED, "suspended (manual: no module command)")
    server, credentials = found
    module_for(server, credentials).suspend(_account(order, item, "suspend", item.username, None), reason="suspended")
    return ItemOutcome(ItemStatus.SUSPENDED, f"account {item.username or ''} suspended on {server.name}",
                       {"commands": done(item, "suspend")})


def unsuspend(inp: StepInput, order: Order, item: OrderItem) -> ItemOutcome:
    found = _managed(item)
    if found is None:
        return ItemOutcome(ItemStatus.ACTIVE, "unsuspended (manual: no module command)")
    server, credentials = found
    module_for(server, credentials).unsuspend(_account(order, item, "unsuspend", item.username, None))
    return ItemOutcome(ItemStatus.ACTIVE, f"account {item.username or ''} unsuspended on {server.name}",
                       {"commands": done(item, "unsuspend")})

