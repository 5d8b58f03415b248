"""Daily statistics: what happened to orders on each day (UTC), counted once per happening.

A `DailyEvent` is one happening, named by an id derived from the change that made it (the same
id for a stream record delivered again); `DayCounts` is one day's totals. Money is kept per
currency, exact: an order's currency is its own (`CreateOrderIn.currency`) and nothing here
converts between currencies."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

PLACED = "placed"
ACCEPTED = "accepted"
CANCELLED = "cancelled"
FRAUD = "fraud"
PAYMENTS = "payments"
REFUNDS = "refunds"
FAILED_ACTIONS = "failed_actions"
COUNTERS = (PLACED, ACCEPTED, CANCELLED, FRAUD, PAYMENTS, REFUNDS, FAILED_ACTIONS)
# screening results by decision (FraudCheck.decision)
FRAUD_DECISIONS = ("accept", "review", "reject", "error")

_CURRENCY = re.compile(r"^[A-Z]{3}$")


def currency_code(value: str | None) -> str:
    """An ISO 4217 code as stored (orders are validated so); anything else is counted as XXX,
    ISO's "no currency", rather than becoming an attribute name of its own."""
    return value if value and _CURRENCY.match(value) else "XXX"


@dataclass(frozen=True)
class DailyEvent:
    """One happening: `counter` (one of COUNTERS, or `fraud_check`) + 1 on `day`, and for money
    `amount` added to the day's sum in `currency`; a fraud check counts its `decision`."""

    id: str
    day: str  # YYYY-MM-DD, UTC
    counter: str
    currency: str | None = None
    amount: Decimal | None = None
    decision: str | None = None


@dataclass
class DayCounts:
    date: str
    placed: int = 0
    accepted: int = 0
    cancelled: int = 0
    fraud: int = 0
    payments: int = 0
    payment_amounts: dict[str, Decimal] = field(default_factory=dict)
    refunds: int = 0
    refund_amounts: dict[str, Decimal] = field(default_factory=dict)
    failed_actions: int = 0
    fraud_checks: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FRAUD_DECISIONS, 0))
