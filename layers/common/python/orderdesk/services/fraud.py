"""Fraud screening of orders (being written)."""

from __future__ import annotations

from ..domain.model import FraudCheck


def recheck_order(order_id: str, actor: str) -> FraudCheck:
    raise NotImplementedError
