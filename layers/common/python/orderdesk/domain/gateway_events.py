"""An event a payment gateway sent OrderDesk (a Stripe webhook event) and what became of it.

Kept once per gateway and event id: a delivery of an event already kept is answered with what
became of it the first time and changes nothing. An event OrderDesk could not put on an invoice
(an unknown invoice, another currency, an amount over the balance, an invoice no longer payable)
is kept `unmatched`, for billing to look at (`GET /gateways/stripe/unmatched`)."""

from __future__ import annotations

from dataclasses import dataclass

RECORDED = "recorded"  # a payment or refund was recorded on the invoice
ALREADY_RECORDED = "already_recorded"  # what it says was on the invoice already (another event, a person)
UNMATCHED = "unmatched"  # kept for billing: `reason` says why
OUTCOMES = (RECORDED, ALREADY_RECORDED, UNMATCHED)


@dataclass(frozen=True)
class GatewayEvent:
    gateway: str  # stripe
    id: str  # the gateway's event id (evt_...)
    type: str  # payment_intent.succeeded, charge.refunded
    received_at: str
    outcome: str
    reason: str | None = None
    invoice_id: str | None = None  # as the event names it
    object_id: str | None = None  # the payment intent or charge the event is about
    # as the gateway said it, exactly (an unmatched amount may have more places than OrderDesk keeps)
    amount: str | None = None
    currency: str | None = None

    @property
    def unmatched(self) -> bool:
        return self.outcome == UNMATCHED


@dataclass(frozen=True)
class GatewayEventPage:
    events: list[GatewayEvent]
    last_key: str | None  # where the next page starts (None: no more)
