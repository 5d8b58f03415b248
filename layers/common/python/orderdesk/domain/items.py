"""What an item's account (or a domain's registration) allows: the rules Accept, Cancel, Set as
Fraud and the per-item commands share. An item's status says what the order promises; its account
says what is real on the server, and only a module command changes that."""

from __future__ import annotations

from .errors import TransitionNotAllowed
from .model import OrderItem, RegistrationState
from .statuses import ItemKind, ItemStatus

COMMANDS = ("create", "suspend", "unsuspend", "terminate", "register")


def has_live_service(item: OrderItem) -> bool:
    """An account exists on a server for it (products and addons)."""
    return item.kind is not ItemKind.DOMAIN and item.account.exists


def needs_provisioning(item: OrderItem) -> bool:
    """Accept provisions it: no live account (or, for a domain, no registration under way or done)
    and not Active. An item a bulk change left Cancelled or Fraud is provisioned again."""
    if item.status is ItemStatus.ACTIVE:
        return False
    if item.kind is ItemKind.DOMAIN:
        reg = item.registration
        return reg is None or reg.state not in (RegistrationState.ACTIVE, RegistrationState.PENDING)
    return not item.account.exists


def check_command(item: OrderItem, command: str) -> None:
    """Whether a per-item command may run on the item as it is (TransitionNotAllowed, with why)."""
    domain = item.kind is ItemKind.DOMAIN
    why: str | None = None
    if command == "register":
        if not domain:
            why = "only a domain is registered"
        elif item.status is ItemStatus.ACTIVE:
            why = "the domain is Active already"
    elif domain:
        why = f"{command} acts on an account on a server; a domain has none"
    elif command == "create":
        if item.account.exists:
            why = "its account exists already"
        elif not item.server_id:
            why = "it has no server to create its account on"
    elif command == "suspend":
        why = None if item.status is ItemStatus.ACTIVE else f"only an Active item is suspended (it is {item.status.value})"
    elif command == "unsuspend":
        why = None if item.status is ItemStatus.SUSPENDED else (
            f"only a Suspended item is unsuspended (it is {item.status.value})")
    elif command == "terminate":
        why = None if item.account.exists else "it has no live account to terminate"
    else:
        why = f"unknown command {command!r} (one of {', '.join(COMMANDS)})"
    if why:
        raise TransitionNotAllowed(f"cannot {command} item {item.id}: {why}", current=item.status.value)
