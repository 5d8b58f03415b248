"""What a list of orders asks for, and what a page of it is."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .model import Order
from .statuses import OrderStatus, PaymentStatus


@dataclass
class OrderFilter:
    status: OrderStatus | None = None
    client_id: str | None = None
    payment_status: PaymentStatus | None = None
    placed_from: str | None = None  # inclusive lower bound of placed_at (normalised)
    placed_to: str | None = None  # inclusive upper bound of placed_at (normalised)
    promo_code: str | None = None
    payment_method: str | None = None
    ip_address: str | None = None
    number: str | None = None
    affiliate_id: str | None = None
    min_total: Decimal | None = None
    max_total: Decimal | None = None
    q: str | None = None
    attention: bool | None = None  # True: only the orders needing attention


@dataclass
class OrderPage:
    orders: list[Order]
    last_sort_key: str | None  # where the next page starts (exclusive); None when no more


ATTENTION = "Attention"  # the count of orders needing attention, beside the status counts


@dataclass(frozen=True)
class Counted:
    """What the status counters count an order as: its status, and whether it needs attention."""

    status: OrderStatus
    attention: bool = False

    def columns(self) -> set[str]:
        return {self.status.value} | ({ATTENTION} if self.attention else set())
