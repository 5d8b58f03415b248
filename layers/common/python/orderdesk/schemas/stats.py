"""Daily statistics (GET /stats/daily): what happened to orders on each day, from one record a day."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

from .common import MoneyOut, Out, Strict

Day = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD (UTC)")]


class DailyStatsQuery(Strict):
    model_config = ConfigDict(extra="forbid", strict=False, str_strip_whitespace=True, populate_by_name=True)

    from_: Day | None = Field(default=None, alias="from", description="the first day; default: 29 days before `to`")
    to: Day | None = Field(default=None, description="the last day (inclusive); default: today")


class MoneyCountOut(Out):
    count: int
    amounts: dict[str, MoneyOut] = Field(description="the sum per currency (ISO 4217 code → decimal string); "
                                                     "currencies are never converted or added together")


class FraudChecksOut(Out):
    accept: int
    review: int
    reject: int
    error: int


class DailyStatsOut(Out):
    date: str
    placed: int = Field(description="orders placed that day")
    accepted: int = Field(description="orders that became Active")
    cancelled: int = Field(description="orders that became Cancelled")
    fraud: int = Field(description="orders that became Fraud")
    payments: MoneyCountOut
    refunds: MoneyCountOut = Field(description="refunds done (an owed refund counts once it is confirmed)")
    failed_actions: int = Field(description="actions (Accept, Cancel, ...) that ended FAILED")
    fraud_checks: FraudChecksOut = Field(description="fraud screening results, by decision")
