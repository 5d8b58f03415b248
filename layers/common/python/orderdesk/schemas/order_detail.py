"""One order in full (what GET /orders/{order_id} and every change to an order answer) and the
small changes made on it: its affiliate, a note."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..domain.statuses import ItemKind, ItemStatus, PaymentStatus
from .actions import ActionOut
from .common import Id, MoneyOut, Out, Strict
from .fraud import FraudCheckOut
from .invoices import InvoiceSummaryOut
from .orders import OrderSummaryOut

# -- requests ----------------------------------------------------------------------------------


class AffiliateAssignIn(Strict):
    affiliate_id: Id | None


class NoteIn(Strict):
    text: Annotated[str, Field(min_length=1, max_length=5000)]


# -- responses ---------------------------------------------------------------------------------


class ServiceAccountOut(Out):
    """The item's account on its server, apart from its status: `exists` says it is live there."""

    server_id: str | None
    username: str | None
    exists: bool


class DomainRegistrationOut(Out):
    state: Literal["none", "pending", "active", "failed"]
    reference: str | None
    since: str | None
    detail: str | None


class OrderItemOut(Out):
    id: str
    kind: ItemKind
    description: str
    billing_cycle: str
    amount: MoneyOut
    status: ItemStatus
    payment_status: PaymentStatus
    server_id: str | None
    username: str | None
    module: str | None
    has_password: bool
    domain: str | None
    registration_type: str | None
    period_years: int | None
    registrar: str | None
    last_error: str | None
    account: ServiceAccountOut
    registration: DomainRegistrationOut | None


class HistoryOut(Out):
    at: str
    actor: str
    action: str
    from_: str | None = Field(serialization_alias="from")
    to: str | None
    detail: str | None
    execution: str | None


class NoteOut(Out):
    id: str
    at: str
    author: str
    text: str


class OrderOut(OrderSummaryOut):
    notes: str | None
    fraud_check: FraudCheckOut | None
    items: list[OrderItemOut]
    invoice: InvoiceSummaryOut | None
    history: list[HistoryOut]
    admin_notes: list[NoteOut]
    actions: list[ActionOut]
    available_actions: list[str]


class WelcomeItemOut(Out):
    id: str
    description: str
    domain: str | None
    username: str | None


class WelcomeEmailOut(Out):
    sent_to: str
    sent_at: str
    items: list[WelcomeItemOut] = Field(description="the order's Active items, as the email lists them")
