"""A fraud screening's outcome, as an order shows it and as a re-run answers."""

from __future__ import annotations

from typing import Any

from .common import Out


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
