"""Request and response models (pydantic v2). They validate input, shape output and are the
source of the OpenAPI document, so the three never disagree."""

from __future__ import annotations

import re
from decimal import Decimal
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from .domain.countries import COUNTRY_CODES
from .domain.money import InvalidMoney, fmt, parse_money
from .domain.statuses import InvoiceStatus, ItemKind, ItemStatus, OrderStatus, PaymentStatus

MONEY_PATTERN = r"^\d{1,12}(\.\d{1,2})?$"


def _money_in(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError('must be a decimal string such as "12.50", not a JSON number')
    try:
        return parse_money(value)
    except InvalidMoney as exc:
        raise ValueError(str(exc)) from exc


Money = Annotated[
    Decimal,
    BeforeValidator(_money_in),
    PlainSerializer(fmt, return_type=str),
    WithJsonSchema({"type": "string", "pattern": MONEY_PATTERN, "example": "12.50"}),
]
MoneyOut = Annotated[
    Decimal,
    PlainSerializer(fmt, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+\.\d{2}$", "example": "12.50"}),
]


def _country(value: str) -> str:
    if value not in COUNTRY_CODES:
        raise ValueError("must be an ISO 3166-1 alpha-2 code in capitals, such as \"GB\"")
    return value


def _ip(value: str) -> str:
    try:
        return str(ip_address(value))
    except ValueError as exc:
        raise ValueError("must be an IPv4 or IPv6 address") from exc


_DOMAIN_RE = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def _domain(value: str) -> str:
    value = value.strip().lower()
    if not _DOMAIN_RE.match(value):
        raise ValueError("must be a domain name such as \"example.com\"")
    return value


Country = Annotated[str, AfterValidator(_country), WithJsonSchema({"type": "string", "pattern": "^[A-Z]{2}$"})]
IpAddress = Annotated[str, Field(max_length=45), AfterValidator(_ip)]
DomainName = Annotated[str, Field(max_length=253), AfterValidator(_domain)]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
BillingCycle = Literal[
    "one-time", "monthly", "quarterly", "semi-annually", "annually", "biennially", "triennially"
]

_ = (IPv4Address, IPv6Address)  # ip_address returns these


class Strict(BaseModel):
    # defer_build: a model's validator is built when first used, not at import (a cold start of
    # the API builds the few models its first request needs, not all of them)
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True, defer_build=True)


# -- requests ----------------------------------------------------------------------------------


class ClientIn(Strict):
    first_name: ShortText
    last_name: ShortText
    email: EmailStr = Field(max_length=254)
    company: Annotated[str, Field(max_length=200)] | None = None
    country: Country
    address: Annotated[str, Field(max_length=500)] | None = None
    phone: Annotated[str, Field(max_length=40, pattern=r"^[0-9 +().-]{3,40}$")] | None = None


class AffiliateIn(Strict):
    name: ShortText
    email: EmailStr = Field(max_length=254)


class ServerIn(Strict):
    name: ShortText
    module: Literal["none", "webhook", "cpanel"]
    hostname: Annotated[str, Field(max_length=253, pattern=r"^[A-Za-z0-9.-]+(:\d{1,5})?$")] | None = None
    url: Annotated[str, Field(max_length=2000, pattern=r"^https?://[^\s]+$")] | None = None
    username: Annotated[str, Field(max_length=100)] | None = None
    credentials: Annotated[str, Field(min_length=1, max_length=4000)] | None = Field(
        default=None, description="Write-only: an API token, password or signing secret. Never returned."
    )

    @model_validator(mode="after")
    def _target(self) -> ServerIn:
        if self.module == "webhook" and not self.url:
            raise ValueError("url: a webhook server needs a url")
        if self.module == "cpanel" and not self.hostname:
            raise ValueError("hostname: a cpanel server needs a hostname")
        return self


class OrderItemIn(Strict):
    kind: ItemKind
    description: ShortText
    billing_cycle: BillingCycle = "monthly"
    amount: Money
    server_id: Id | None = None
    username: Annotated[str, Field(max_length=64, pattern=r"^[a-z][a-z0-9_]{0,31}$")] | None = None
    module: Literal["none", "webhook", "cpanel"] | None = None
    domain: DomainName | None = None
    registration_type: Literal["register", "transfer"] | None = None
    period_years: Annotated[int, Field(ge=1, le=10)] | None = None
    registrar: Code | None = None

    @model_validator(mode="after")
    def _by_kind(self) -> OrderItemIn:
        if self.kind is ItemKind.DOMAIN:
            if not self.domain:
                raise ValueError("domain: a domain item needs a domain")
            self.registration_type = self.registration_type or "register"
            self.period_years = self.period_years or 1
            if self.billing_cycle == "monthly":
                self.billing_cycle = "annually"
        elif self.domain or self.registration_type or self.registrar:
            raise ValueError("domain: only domain items carry domain, registration_type or registrar")
        return self


class CreateOrderIn(Strict):
    client_id: Id
    items: Annotated[list[OrderItemIn], Field(min_length=1, max_length=50)]
    payment_method: Code
    promo_code: Code | None = None
    discount: Money | None = None
    ip_address: IpAddress | None = None
    affiliate_id: Id | None = None
    notes: Annotated[str, Field(max_length=5000)] | None = None
    currency: Currency = "USD"
    skip_fraud_check: bool = False


class AcceptItemIn(Strict):
    server_id: Id | None = None
    username: Annotated[str, Field(max_length=64, pattern=r"^[a-z][a-z0-9_]{0,31}$")] | None = None
    password: Annotated[str, Field(min_length=8, max_length=128)] | None = Field(
        default=None, description="Write-only: stored encrypted, never returned or logged."
    )
    registrar: Code | None = None
    run_module_create: bool = True
    send_to_registrar: bool = True


class AcceptIn(Strict):
    items: dict[Id, AcceptItemIn] = Field(default_factory=dict)
    send_welcome_email: bool = True


class CancelIn(Strict):
    refund: bool = False


class AffiliateAssignIn(Strict):
    affiliate_id: Id | None


class NoteIn(Strict):
    text: Annotated[str, Field(min_length=1, max_length=5000)]


class PaymentIn(Strict):
    amount: Money
    gateway: Code
    transaction_id: Annotated[str, Field(min_length=1, max_length=200)]

    @model_validator(mode="after")
    def _positive(self) -> PaymentIn:
        if self.amount <= 0:
            raise ValueError("amount: must be more than 0.00")
        return self


class BulkIn(Strict):
    order_ids: Annotated[list[Id], Field(min_length=1, max_length=1000)]
    status: OrderStatus | None = None
    delete: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> BulkIn:
        if (self.status is None) == (not self.delete):
            raise ValueError("status: give either a status or delete: true")
        return self


DateOrTimestamp = Annotated[
    str,
    Field(max_length=40, pattern=r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$"),
]


class OrderQuery(Strict):
    """Query string of GET /orders; every value arrives as a string."""

    model_config = ConfigDict(extra="forbid", strict=False, str_strip_whitespace=True)

    status: OrderStatus | None = None
    client_id: Id | None = None
    payment_status: PaymentStatus | None = None
    placed_from: DateOrTimestamp | None = None
    placed_to: DateOrTimestamp | None = None
    promo_code: Code | None = None
    payment_method: Code | None = None
    ip_address: IpAddress | None = None
    number: Annotated[str, Field(pattern=r"^\d{1,10}$")] | None = None
    affiliate_id: Id | None = None
    min_total: Annotated[str, Field(pattern=MONEY_PATTERN)] | None = None
    max_total: Annotated[str, Field(pattern=MONEY_PATTERN)] | None = None
    q: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 25
    cursor: Annotated[str, Field(max_length=2000)] | None = None


class ClientQuery(Strict):
    model_config = ConfigDict(extra="forbid", strict=False, str_strip_whitespace=True)
    q: Annotated[str, Field(min_length=1, max_length=100)] | None = None


# -- responses ---------------------------------------------------------------------------------


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True, defer_build=True)


class HealthOut(Out):
    status: Literal["ok"]


class ErrorBody(Out):
    code: str
    message: str
    fields: dict[str, str] = Field(default_factory=dict)


class ErrorOut(Out):
    error: ErrorBody


class ClientOut(Out):
    id: str
    first_name: str
    last_name: str
    email: str
    company: str | None
    country: str
    address: str | None
    phone: str | None
    credit_balance: MoneyOut
    created_at: str


class ClientListOut(Out):
    clients: list[ClientOut]


class AffiliateOut(Out):
    id: str
    name: str
    email: str
    created_at: str


class AffiliateListOut(Out):
    affiliates: list[AffiliateOut]


class ServerOut(Out):
    id: str
    name: str
    module: str
    hostname: str | None
    url: str | None
    username: str | None
    has_credentials: bool
    created_at: str


class ServerListOut(Out):
    servers: list[ServerOut]


class ClientRefOut(Out):
    id: str
    name: str
    email: str
    company: str | None
    country: str


class AffiliateRefOut(Out):
    id: str
    name: str


class PendingActionOut(Out):
    action_id: str
    type: str
    started_at: str


class FraudSignalOut(Out):
    name: str
    value: Any = None
    weight: int
    triggered: bool


class FraudCheckOut(Out):
    provider: str
    score: int
    decision: str
    signals: list[FraudSignalOut]
    checked_at: str
    error: str | None


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


class TransactionOut(Out):
    id: str
    type: Literal["payment", "refund"]
    gateway: str
    transaction_id: str
    amount: MoneyOut
    at: str
    refund_of: str | None


class InvoiceLineOut(Out):
    item_id: str
    description: str
    amount: MoneyOut


class InvoiceOut(Out):
    id: str
    client_id: str
    order_id: str
    status: InvoiceStatus
    lines: list[InvoiceLineOut]
    subtotal: MoneyOut
    discount: MoneyOut
    tax: MoneyOut
    total: MoneyOut
    balance: MoneyOut
    currency: str
    due_date: str
    date_paid: str | None
    payment_method: str
    transactions: list[TransactionOut]


class InvoiceSummaryOut(Out):
    id: str
    status: InvoiceStatus
    total: MoneyOut
    balance: MoneyOut
    due_date: str
    date_paid: str | None


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


class ActionStepOut(Out):
    name: str
    status: str
    error: str | None


class ActionOut(Out):
    id: str
    order_id: str
    type: str
    status: Literal["RUNNING", "SUCCEEDED", "FAILED"]
    steps: list[ActionStepOut]
    started_at: str
    finished_at: str | None
    error: str | None


class ActionEnvelope(Out):
    action: ActionOut


class OrderSummaryOut(Out):
    id: str
    number: str
    placed_at: str
    status: OrderStatus
    client: ClientRefOut
    promo_code: str | None
    discount: MoneyOut
    payment_method: str
    total: MoneyOut
    currency: str
    payment_status: PaymentStatus
    invoice_id: str
    ip_address: str | None
    affiliate: AffiliateRefOut | None
    pending_action: PendingActionOut | None
    flagged_for_review: bool


class OrderOut(OrderSummaryOut):
    notes: str | None
    fraud_check: FraudCheckOut | None
    items: list[OrderItemOut]
    invoice: InvoiceSummaryOut | None
    history: list[HistoryOut]
    admin_notes: list[NoteOut]
    actions: list[ActionOut]
    available_actions: list[str]


class OrderListOut(Out):
    orders: list[OrderSummaryOut]
    next_cursor: str | None


class StatusCountOut(Out):
    status: OrderStatus
    count: int


class BulkJobSummary(Out):
    id: str
    status: Literal["QUEUED", "RUNNING", "DONE"]
    total: int


class BulkJobEnvelope(Out):
    job: BulkJobSummary


class BulkFailureOut(Out):
    order_id: str
    error: str


class BulkJobOut(Out):
    id: str
    status: Literal["QUEUED", "RUNNING", "DONE"]
    total: int
    succeeded: int
    failed: int
    failures: list[BulkFailureOut]
