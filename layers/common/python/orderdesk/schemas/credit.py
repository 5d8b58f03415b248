"""A client's credit ledger: its balance, its entries, an adjustment."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, model_validator

from .common import MoneyOut, Out, ShortText, SignedMoney, Strict


class CreditIn(Strict):
    amount: Annotated[SignedMoney, Field(description="added to the balance; negative takes it off (never below 0.00)")]
    reason: ShortText

    @model_validator(mode="after")
    def _not_zero(self) -> CreditIn:
        if self.amount == 0:
            raise ValueError("amount: must not be 0.00")
        return self


class CreditQuery(Strict):
    """Query string of GET /clients/{id}/credit; every value arrives as a string."""

    model_config = ConfigDict(extra="forbid", strict=False, str_strip_whitespace=True)
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    cursor: Annotated[str, Field(max_length=2000)] | None = None


class CreditEntryOut(Out):
    at: str
    amount: MoneyOut
    reason: str
    ref: str | None = Field(description="what caused it: the invoice of a credit payment or of a refund to credit")
    actor: str | None


class CreditLedgerOut(Out):
    client_id: str
    balance: MoneyOut = Field(description="the sum of every entry; never below 0.00")
    entries: list[CreditEntryOut] = Field(description="newest first; the opening balance, if any, last")
    next_cursor: str | None
