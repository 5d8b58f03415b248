"""Orders: adding one, finding and listing them (the list's query, an order's summary, the
counts by status). One order in full is `order_detail`, so the list loads none of it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from ..domain.currencies import CURRENCY_CODES, exponent, fits
from ..domain.statuses import ItemKind, OrderStatus, PaymentStatus
from .common import (
    MONEY_PATTERN,
    BillingCycle,
    Code,
    Currency,
    DateOrTimestamp,
    DomainName,
    Id,
    IpAddress,
    Money,
    MoneyOut,
    Out,
    ShortText,
    Strict,
)

# -- requests ----------------------------------------------------------------------------------


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

    @model_validator(mode="after")
    def _amounts_fit_the_currency(self) -> CreateOrderIn:
        """No amount finer than the currency's minor unit: an invoice of ¥1500.50 could be neither
        paid nor refunded through a gateway (there is no half yen)."""
        if self.currency not in CURRENCY_CODES:
            return self  # refused by the field itself
        unit = f"whole units of {self.currency}" if exponent(self.currency) == 0 else \
            f"at most {exponent(self.currency)} decimal places in {self.currency}"
        for i, item in enumerate(self.items):
            if not fits(item.amount, self.currency):
                raise ValueError(f"items.{i}.amount: must be {unit}")
        if self.discount is not None and not fits(self.discount, self.currency):
            raise ValueError(f"discount: must be {unit}")
        return self


# what `q` matches, as `orderdesk.domain.search` computes it (also in the README)
Q_MATCHES = (
    "Words (split at spaces, case-insensitive) that must each be the start of a word of the order: "
    "each word of the client's name and company (split at spaces, and again at hyphens, apostrophes "
    "and dots), the client's email address whole, its local part and its domain, and each domain of "
    "the order's items; a domain also as each of its parent domains of two labels or more. The "
    "client's name, email and company are the client's current ones. `ada`, `lovelace`, `ada@exam`, "
    "`example.com` and `shop.example` find Ada Lovelace <ada@example.com> with shop.example.com; "
    "`velace` does not. A new order is found once the table's stream has been read (about a "
    "second); a changed client or domain after two such steps."
)


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
    q: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(default=None, description=Q_MATCHES)
    attention: Annotated[bool, Field(description="true: only the orders needing attention (their "
                                                 "`attention` list is not empty), from an index")] | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 25
    cursor: Annotated[str, Field(max_length=2000)] | None = None


# -- responses ---------------------------------------------------------------------------------


class ClientRefOut(Out):
    id: str
    name: str
    email: str
    company: str | None
    country: str


class AffiliateRefOut(Out):
    id: str
    name: str


class AttentionOut(Out):
    code: Literal["live_service", "domain_waiting", "refund_owed", "failed_item", "part_paid"]
    item_id: str | None
    message: str


class PendingActionOut(Out):
    action_id: str
    type: str
    started_at: str


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
    attention: list[AttentionOut]


class OrderListOut(Out):
    orders: list[OrderSummaryOut]
    next_cursor: str | None
    searched_to: str | None = Field(default=None, description=(
        "Set when the request's read budget ran out before the page was full: every order placed "
        "after this time was looked at, and `next_cursor` continues the search from there."))


class StatusCountOut(Out):
    status: Annotated[str, Field(description="an order status, or `Attention`: the orders needing attention")]
    count: int
