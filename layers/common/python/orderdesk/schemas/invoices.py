"""Invoices and the payments recorded against them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from ..domain.statuses import InvoiceStatus
from .common import Code, Money, MoneyOut, Out, Strict


class PaymentIn(Strict):
    amount: Money
    gateway: Code
    transaction_id: Annotated[str, Field(min_length=1, max_length=200)]

    @model_validator(mode="after")
    def _positive(self) -> PaymentIn:
        if self.amount <= 0:
            raise ValueError("amount: must be more than 0.00")
        return self


class TransactionOut(Out):
    id: str
    type: Literal["payment", "refund"]
    gateway: str
    transaction_id: str
    amount: MoneyOut
    at: str
    refund_of: str | None
    state: Literal["done", "owed"] = Field(description="a refund: done (paid back) or owed (to pay back by hand)")
    reference: str | None = None


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
