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
    attention_code: str | None = None  # only those whose attention list has this code (with attention)

    def admits(self, order: Order) -> bool:
        """The order passes every filter but `q` (whose words are the search index's: `search`)."""
        checks = (
            self.status is None or order.status is self.status,
            self.client_id is None or order.client.id == self.client_id,
            self.payment_status is None or order.payment_status is self.payment_status,
            self.placed_from is None or order.placed_at >= self.placed_from,
            self.placed_to is None or order.placed_at <= self.placed_to,
            self.promo_code is None or order.promo_code == self.promo_code,
            self.payment_method is None or order.payment_method == self.payment_method,
            self.ip_address is None or order.ip_address == self.ip_address,
            self.number is None or order.number == self.number,
            self.affiliate_id is None or (order.affiliate is not None and order.affiliate.id == self.affiliate_id),
            self.min_total is None or order.total >= self.min_total,
            self.max_total is None or order.total <= self.max_total,
            not self.attention or bool(order.attention),
            self.attention_code is None or any(a.code == self.attention_code for a in order.attention),
        )
        return all(checks)


@dataclass
class OrderPage:
    orders: list[Order]
    last_sort_key: str | None  # where the next page starts (exclusive); None when no more
    # set when the read budget ran out before the page was full: every order placed after this
    # was looked at, and `last_sort_key` continues from there
    searched_to: str | None = None


ATTENTION = "Attention"  # the count of orders needing attention, beside the status counts


@dataclass(frozen=True)
class Counted:
    """What the status counters count an order as: its status, and whether it needs attention."""

    status: OrderStatus
    attention: bool = False

    def columns(self) -> set[str]:
        return {self.status.value} | ({ATTENTION} if self.attention else set())


@dataclass(frozen=True)
class CountChange:
    """One order counted as `now` (None: no longer, it is gone) as of its `version`;
    `uncounted_was`: what the counters hold it as if nothing counted it yet (orders counted before
    the counted-version records existed)."""

    order_id: str
    version: int
    now: Counted | None
    uncounted_was: Counted | None = None
