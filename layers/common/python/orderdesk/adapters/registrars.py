"""Domain registrars behind one interface: `none` (manual; records only) and `webhook` (the
registration or transfer as signed JSON, see `remote`, to `REGISTRAR_WEBHOOK_URL`).

A registrar answers whether the domain is already `active` or `pending` (the registry has yet to
confirm: the item stays `Pending Registration` / `Pending Transfer` until it does). Later it tells
OrderDesk how a pending domain ended, by a signed event (`POST /registrar/events`), and it is
asked about the domains still waiting (`status`, by the `sync_domains` schedule)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..config import get_settings
from ..domain.errors import PermanentError
from ..domain.outbound import url_refusal
from .remote import RemoteRejected, post_signed
from .secret_store import secret
from .signing import new_nonce


@dataclass(frozen=True)
class DomainRequest:
    order_id: str
    item_id: str
    domain: str
    registration_type: str  # register | transfer
    period_years: int
    client_id: str
    client_name: str
    client_email: str


@dataclass(frozen=True)
class RegistrarResult:
    active: bool
    reference: str | None = None


@dataclass(frozen=True)
class StatusQuery:
    """A domain sent to the registrar earlier: how is it now?"""

    order_id: str
    item_id: str
    domain: str
    registration_type: str  # register | transfer
    reference: str | None  # the registrar's, from its answer to the submit


STATES = ("active", "pending", "failed")


@dataclass(frozen=True)
class RegistrarStatus:
    state: str  # active | pending | failed
    detail: str | None = None
    reference: str | None = None


class Registrar(Protocol):
    name: str

    def submit(self, request: DomainRequest) -> RegistrarResult: ...

    def status(self, query: StatusQuery) -> RegistrarStatus: ...


class NoneRegistrar:
    """Manual: the operator registers the domain elsewhere; it is taken as done."""

    name = "none"

    def submit(self, request: DomainRequest) -> RegistrarResult:
        return RegistrarResult(active=True)

    def status(self, query: StatusQuery) -> RegistrarStatus:
        return RegistrarStatus(state="active")


class WebhookRegistrar:
    name = "webhook"

    def __init__(self, url: str, secret: str | None) -> None:
        self.url = url
        self.secret = secret

    def submit(self, request: DomainRequest) -> RegistrarResult:
        answer = post_signed(
            self.url,
            {
                "command": request.registration_type,
                "domain": request.domain,
                "period_years": request.period_years,
                "order_id": request.order_id,
                "item_id": request.item_id,
                "client": {"id": request.client_id, "name": request.client_name, "email": request.client_email},
            },
            self.secret,
            idempotency_key=f"orderdesk:{request.order_id}:{request.item_id}:{request.registration_type}",
        )
        reference = answer.get("reference")
        return RegistrarResult(active=answer.get("status") == "active",
                               reference=str(reference) if reference is not None else None)

    def status(self, query: StatusQuery) -> RegistrarStatus:
        """`{"command": "status", ...}`, signed as a submit is. A question, not a command: its
        Idempotency-Key is new for each time it is asked (a receiver that replays the answer to a
        key it has seen would otherwise answer today with yesterday's state)."""
        answer = post_signed(
            self.url,
            {"command": "status", "domain": query.domain, "registration_type": query.registration_type,
             "reference": query.reference, "order_id": query.order_id, "item_id": query.item_id},
            self.secret,
            idempotency_key=f"orderdesk:{query.order_id}:{query.item_id}:status:{new_nonce()}",
        )
        state = answer.get("status")
        if state not in STATES:
            raise RemoteRejected(f"the registrar answered a status query with status {str(state)[:40]!r} "
                                 f"(expected one of {', '.join(STATES)})")
        detail, reference = answer.get("detail"), answer.get("reference")
        return RegistrarStatus(state=str(state), detail=str(detail)[:500] if detail is not None else None,
                               reference=str(reference) if reference is not None else query.reference)


REGISTRARS = ("none", "webhook")


@dataclass(frozen=True)
class RegistrarChoice:
    name: str  # what an order item's `registrar` takes
    label: str
    description: str


def configured() -> list[RegistrarChoice]:
    """The registrars a domain item may name here: `none` always, `webhook` when its URL is set
    (REGISTRAR_WEBHOOK_URL; its signing secret is checked when it is used)."""
    out = [RegistrarChoice("none", "None (manual)", "Register or transfer the domain yourself; it is taken as done.")]
    if get_settings().registrar_webhook_url:
        out.append(RegistrarChoice("webhook", "Registrar webhook",
                                   "The registration or transfer is sent, signed, to the configured registrar."))
    return out


def registrar_for(name: str | None) -> Registrar:
    if not name or name == "none":
        return NoneRegistrar()
    if name == "webhook":
        settings = get_settings()
        url = settings.registrar_webhook_url
        if not url:
            raise PermanentError("the webhook registrar is not configured (REGISTRAR_WEBHOOK_URL)")
        why = url_refusal(url, allow_loopback=settings.allow_loopback_outbound)
        if why:  # the setting is quoted by its name only: it may be the very thing that leaks
            raise PermanentError(f"REGISTRAR_WEBHOOK_URL {why}")
        signing_secret = secret("registrar_webhook_secret")
        if not signing_secret:
            raise PermanentError("the webhook registrar has no signing secret (REGISTRAR_WEBHOOK_SECRET)")
        return WebhookRegistrar(url, signing_secret)
    raise PermanentError(f"unknown registrar {name!r} (known: {', '.join(REGISTRARS)})")
