"""The machine clients the local stack knows, standing in for the user pool's client-credentials app
clients: `make token CLIENT=storefront SCOPE=orderdesk/support` signs for one of these, and the
stack allows exactly these (AUTH_MACHINE_CLIENT_IDS), so a token it prints is one the stack takes.

A client's id is derived from its name ("local-storefront"): readable in tokens and logs, and the
same on every machine, so nothing about it needs keeping in `.local/`."""

from __future__ import annotations

NAMES = ("storefront", "accounting")
SCOPES = ("orderdesk/viewer", "orderdesk/support", "orderdesk/billing", "orderdesk/admin")


def client_id(name: str) -> str:
    return f"local-{name}"


def allowed_setting() -> str:
    """AUTH_MACHINE_CLIENT_IDS for the local stack: `name=id` pairs, so history names the client."""
    return ",".join(f"{name}={client_id(name)}" for name in NAMES)
