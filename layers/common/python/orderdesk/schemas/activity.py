"""The activity log (`GET /activity`): its query and its entries."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

from ..domain.activity import ActivityType
from .common import DateOrTimestamp, MoneyOut, Out, Strict
from .invoices import TransactionOut
from .orders import ClientRefOut


class ActivityQuery(Strict):
    """Query string of GET /activity; every value arrives as a string."""

    model_config = ConfigDict(extra="forbid", strict=False, str_strip_whitespace=True)

    from_: Annotated[DateOrTimestamp | None, Field(alias="from", description="changes at or after (a date: from its "
                                                                              "start, UTC)")] = None
    to: Annotated[DateOrTimestamp | None, Field(description="changes at or before (a date: to its end, UTC)")] = None
    actor: Annotated[str, Field(min_length=1, max_length=200, description="who made the change, exactly "
                                                                          "(`user:...`, `client:<name>`, `workflow`, "
                                                                          "`cleanup`...)")] | None = None
    order_number: Annotated[str, Field(pattern=r"^\d{1,10}$", description="one order's entries, also once it "
                                                                          "is deleted")] | None = None
    type: ActivityType | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 25
    cursor: Annotated[str, Field(max_length=2000)] | None = None


class DeletedOrderOut(Out):
    number: str
    status: str
    placed_at: str
    client: ClientRefOut
    total: MoneyOut
    currency: str
    invoice_id: str | None
    payments: list[TransactionOut]
    refunds: list[TransactionOut]


class ActivityEntryOut(Out):
    id: Annotated[str, Field(description="stable and unique: a row's key")]
    at: str
    actor: str
    type: ActivityType
    action: Annotated[str, Field(description="what happened, as the order's history says it "
                                             "(`payment recorded`, `cancel done`, `order deleted`...)")]
    order_id: str | None
    order_number: str | None
    client_id: str | None
    detail: str | None
    from_: str | None = Field(serialization_alias="from")
    to: str | None
    amount: Annotated[MoneyOut | None, Field(description="the money moved (payment, refund, credit: negative when "
                                                         "taken off the balance); a deleted order's total")]
    currency: str | None
    deleted_order: Annotated[DeletedOrderOut | None, Field(description="a deletion entry: what the order was and "
                                                                       "every payment and refund it carried")]


class ActivityListOut(Out):
    entries: list[ActivityEntryOut]
    next_cursor: str | None
