"""Domain registrars behind one interface: `none` (manual; records only) and `webhook` (the
registration or transfer as signed JSON, see `remote`, to `REGISTRAR_WEBHOOK_URL`).

A registrar answers whether the domain is already `active` or `pending` (the registry has yet to
confirm: the item stays `Pending Registration` / `Pending Transfer` until it does)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..config import get_settings
from ..domain.errors import PermanentError
from ..domain.outbound import url_refusal
from .remote import post_signed
from .secret_store import secret


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


class Registrar(Protocol):
    name: str

    def submit(self, request: DomainRequest) -> RegistrarResult: ...


class NoneRegistrar:
    """Manual: the operator registers the domain elsewhere; it is taken as done."""

    name = "none"

    def submit(self, request: DomainRequest) -> RegistrarResult:
        return RegistrarResult(active=True)


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


REGISTRARS = ("none", "webhook")


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
