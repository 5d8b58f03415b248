"""Invoices and the payments recorded against them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

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
    reference: str | None = Field(default=None, description="an owed refund confirmed: the operator's reference")
    confirmed_by: str | None = None
    confirmed_at: str | None = None


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


class RefundConfirmIn(Strict):
    reference: Annotated[str, Field(min_length=1, max_length=200,
                                    description="how it was paid back: the bank transfer's or PayPal's reference")]


class RefundQuery(Strict):
    """Query string of GET /refunds; every value arrives as a string."""

    model_config = ConfigDict(extra="forbid", strict=False, str_strip_whitespace=True)
    state: Literal["owed"] = Field(default="owed", description="owed: recorded, not yet paid back (from the "
                                                               "attention index; no other state is listed)")
    limit: Annotated[int, Field(ge=1, le=100, description="orders per page (an order may owe several)")] = 25
    cursor: Annotated[str, Field(max_length=2000)] | None = None


class OwedRefundOut(Out):
    refund_id: str
    invoice_id: str
    order_id: str
    order_number: str
    client_id: str
    client_name: str
    gateway: str
    payment_transaction_id: str | None = Field(description="the gateway's id of the payment to pay back")
    refund_of: str | None
    amount: MoneyOut
    currency: str
    at: str


class OwedRefundListOut(Out):
    refunds: list[OwedRefundOut]
    next_cursor: str | None
