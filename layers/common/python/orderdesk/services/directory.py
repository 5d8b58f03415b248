"""Clients, affiliates and servers: the reference data orders point at; and the registrars a
domain item may name."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..adapters import crypto, invoke, provisioning, registrars
from ..config import get_settings
from ..domain.errors import OrderDeskError, TransientError, ValidationFailed
from ..domain.model import Affiliate, Client, Server, iso, new_id, utcnow
from ..domain.money import ZERO
from ..domain.servers import server_problems
from ..retry import retry_on_conflict
from .ports import stores

if TYPE_CHECKING:  # annotations only: the models (and pydantic) load with the request that carries one
    from ..schemas import AffiliateIn, ClientIn, ClientUpdateIn, ServerIn, ServerUpdateIn


def create_client(cmd: ClientIn) -> Client:
    client = Client(id=new_id(), first_name=cmd.first_name, last_name=cmd.last_name, email=str(cmd.email).lower(),
                    country=cmd.country, company=cmd.company, address=cmd.address, phone=cmd.phone,
                    credit_balance=ZERO, created_at=iso(utcnow()))
    stores().clients.put_client(client)
    return client


def get_client(client_id: str) -> Client:
    return stores().clients.get_client(client_id)


def list_clients(q: str | None) -> list[Client]:
    return stores().clients.list_clients(q)


def update_client(client_id: str, cmd: ClientUpdateIn) -> Client:
    """Change the fields `cmd` gives (the others keep theirs); a concurrent edit is read again
    and merged, field by field. The client's orders keep the client as at ordering."""
    changes: dict[str, Any] = cmd.model_dump(exclude_unset=True)
    if changes.get("email") is not None:
        changes["email"] = str(changes["email"]).lower()
    data = stores()

    def edit() -> Client:
        before = data.clients.get_client(client_id)
        return data.clients.update_client(before, replace(before, **changes))

    client = retry_on_conflict(edit, attempts=3)
    client_changed(client)
    return client


def client_changed(client: Client) -> None:
    """What follows an edit of a client, besides the record itself. The hook for the search index
    of GET /orders?q= (being built, `services.search`): its `reindex_client(client.id)` gives the
    client's orders the client's new name, email and company to be found by; call it here once it
    is on main. Nothing else follows: an order shows the client as at ordering (`Order.client`)."""


def create_affiliate(cmd: AffiliateIn) -> Affiliate:
    affiliate = Affiliate(id=new_id(), name=cmd.name, email=str(cmd.email).lower(), created_at=iso(utcnow()))
    stores().directory.put_affiliate(affiliate)
    return affiliate


def list_affiliates() -> list[Affiliate]:
    return stores().directory.list_affiliates()


def create_server(cmd: ServerIn) -> Server:
    server = Server(id=new_id(), name=cmd.name, module=cmd.module, hostname=cmd.hostname, url=cmd.url,
                    username=cmd.username, has_credentials=cmd.credentials is not None, created_at=iso(utcnow()))
    encrypted = crypto.encrypt(cmd.credentials, crypto.server_context(server.id)) if cmd.credentials else None
    stores().directory.put_server(server, encrypted)
    return server


def list_servers() -> list[Server]:
    return stores().directory.list_servers()


def update_server(server_id: str, cmd: ServerUpdateIn) -> Server:
    """Change the fields `cmd` gives; credentials left out stay, given ones replace them. What the
    module needs (a webhook's url and signing secret, a cPanel's hostname) is checked on the server
    as the edit leaves it: a 400 naming the field, nothing written."""
    changes: dict[str, Any] = cmd.model_dump(exclude_unset=True)
    credentials = changes.pop("credentials", None)
    data = stores()

    def edit() -> Server:
        before = data.directory.get_server(server_id)
        after = replace(before, **changes, has_credentials=before.has_credentials or credentials is not None)
        problems = server_problems(after.module, url=after.url, hostname=after.hostname, credentials=credentials,
                                   username=after.username,
                                   has_stored_credentials=before.has_credentials)
        if problems:
            raise ValidationFailed("the server would lack what its module needs", problems)
        encrypted = crypto.encrypt(credentials, crypto.server_context(server_id)) if credentials is not None else None
        return data.directory.update_server(before, after, encrypted)

    return retry_on_conflict(edit, attempts=3)


def check_server(server_id: str) -> dict[str, Any]:
    """Run the server's module's own connection test (`check`) with its stored credentials:
    `{"ok", "detail", "module", "checked_at"}`. A failed test is an answer, not an error; the
    detail never carries a credential. The test runs in the connection-test function when one is
    configured (template.yaml: the API may encrypt credentials, never decrypt them)."""
    data = stores()
    data.directory.get_server(server_id)  # NotFound: 404, before anything runs
    function = get_settings().server_check_function_name
    if function:
        return dict(invoke.call(function, {"server_id": server_id}))
    return run_server_check(server_id)


def run_server_check(server_id: str) -> dict[str, Any]:
    """The connection test itself, where the stored credentials may be decrypted."""
    data = stores()
    server = data.directory.get_server(server_id)
    encrypted = data.directory.server_credentials(server_id)
    checked_at = iso(utcnow())
    try:
        credentials = crypto.decrypt(encrypted, crypto.server_context(server_id)) if encrypted else None
    except TransientError:
        raise  # KMS throttled or out of reach: a 503, worth asking again
    except Exception:  # a key that changed, or a value not of this server: say so, never what was stored
        return {"ok": False, "module": server.module, "checked_at": checked_at,
                "detail": "the stored credentials cannot be read with the current secrets key: save them again"}
    try:
        result = provisioning.module_for(server, credentials).check()
    except OrderDeskError as exc:  # the module cannot be built: no URL, no secret, no token
        return {"ok": False, "detail": exc.message, "module": server.module, "checked_at": checked_at}
    return {"ok": result.ok, "detail": result.detail, "module": server.module, "checked_at": checked_at}


def list_registrars() -> list[dict[str, Any]]:
    """The registrars a domain item may name here, the default (`none`) first."""
    return [{"name": c.name, "label": c.label, "description": c.description, "default": c.name == "none"}
            for c in registrars.configured()]
