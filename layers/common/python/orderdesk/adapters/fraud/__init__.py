"""Fraud-screening providers behind one interface: `rules` (built-in, the default) and `maxmind`
(minFraud). A provider scores what the service gathered about an order; it never writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from ...config import get_settings
from ...domain.errors import PermanentError, TransientError
from ...domain.model import FraudSignal


class FraudProviderError(TransientError):
    """The provider could not score the order (network, remote error, bad configuration)."""


@dataclass
class ScreeningInput:
    """What is known about an order when it is screened."""

    order_id: str
    client_id: str
    email: str
    client_country: str
    ip_address: str | None
    total: Decimal
    currency: str
    placed_at: str
    orders_from_ip_24h: int  # other orders from the same IP address in the last 24 hours
    orders_of_client_24h: int  # other orders of the same client in the last 24 hours
    first_order: bool  # the client has no other order


@dataclass
class Assessment:
    score: int  # 0-100
    signals: list[FraudSignal] = field(default_factory=list)


class FraudProvider(Protocol):
    name: str

    def assess(self, facts: ScreeningInput) -> Assessment: ...


def get_provider(name: str | None = None) -> FraudProvider:
    chosen = (name or get_settings().fraud_provider).lower()
    if chosen == "rules":
        from .rules import RulesProvider

        return RulesProvider()
    if chosen == "maxmind":
        from .maxmind import MaxMindProvider

        return MaxMindProvider()
    raise PermanentError(f"unknown fraud provider {chosen!r} (FRAUD_PROVIDER: rules or maxmind)")


__all__ = ["Assessment", "FraudProvider", "FraudProviderError", "ScreeningInput", "get_provider"]
