"""Payment gateways' events: what a delivery of Stripe's webhook did, and the events OrderDesk
could not match (for billing)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from .common import Out, Strict


class StripeWebhookOut(Out):
    received: Literal[True] = True
    event_id: str
    type: str
    outcome: Literal["recorded", "already_recorded", "unmatched", "ignored"] = Field(
        description="recorded: a payment or refund was recorded on its invoice; already_recorded: the invoice "
                    "had it; unmatched: kept for billing (GET /gateways/stripe/unmatched), `reason` says why; "
                    "ignored: an event type OrderDesk does not act on")
    reason: str | None = None
    invoice_id: str | None = None
    redelivered: bool = Field(False, description="this event was received before: this delivery changed nothing")


class UnmatchedQuery(Strict):
    """Query string of GET /gateways/stripe/unmatched; every value arrives as a string."""

    model_config = ConfigDict(extra="forbid", strict=False, str_strip_whitespace=True)

    limit: Annotated[int, Field(ge=1, le=100)] = 25
    cursor: Annotated[str, Field(max_length=2000)] | None = None


class GatewayEventOut(Out):
    id: str = Field(description="the gateway's event id (evt_...)")
    type: str
    received_at: str
    reason: str | None
    invoice_id: str | None = Field(description="the invoice the event names (metadata.invoice_id), if any")
    object_id: str | None = Field(description="the payment intent or charge the event is about")
    amount: str | None = Field(description="as the gateway sent it, in the currency's unit, exactly")
    currency: str | None


class UnmatchedListOut(Out):
    events: list[GatewayEventOut]
    next_cursor: str | None
