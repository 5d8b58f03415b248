"""Stripe's webhook events (SPEC §9): a payment taken or a refund made in Stripe, recorded on its
invoice once, without anyone typing it in.

* `payment_intent.succeeded` with `metadata.invoice_id`: the payment (gateway `stripe`,
  transaction id the payment intent's id) through `invoices.record_payment`, the one way a
  payment is recorded, actor `stripe`; the invoice becomes Paid when its balance reaches zero.
* `charge.refunded`: each refund of the charge the invoice does not have yet (a refund made in
  Stripe's dashboard), recorded as made (`done`) without calling Stripe back; the invoice becomes
  Refunded when everything paid is refunded. A refund OrderDesk made itself is on the invoice
  already (Cancel & Refund records Stripe's refund id), so its event adds nothing.
* anything else: answered 200 and ignored (Stripe only needs to know it arrived).

Once: an event is kept by its id (`gateway_events`), so a redelivery is answered with what it did
the first time; a payment is recorded once per payment intent or charge whichever event names it,
checked on the invoice and, for two deliveries at once, by the invoice's version guard; a refund
once per Stripe refund id. An event that names no invoice OrderDesk has, another currency, more
than the balance due, an amount finer than OrderDesk keeps or other than the balance due (a payment intent is made
for what is due: another amount is a mistake, not a part payment), or an invoice that takes no payment,
is kept `unmatched` for billing (`GET /gateways/stripe/unmatched`), never a 500: Stripe would
retry it for three days. A transient failure, or an action holding the order, is an error answer
(nothing kept), so Stripe retries later."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from ..adapters.gateways import from_minor_units
from ..adapters.stripe_webhook import verified_event
from ..domain import currencies
from ..domain.changes import OrderChange
from ..domain.errors import DuplicateTransaction, NotFound, TransitionNotAllowed, ValidationFailed
from ..domain.gateway_events import ALREADY_RECORDED, RECORDED, UNMATCHED, GatewayEvent, GatewayEventPage
from ..domain.model import HistoryEntry, Invoice, Transaction, iso, new_id, order_id_of_invoice, utcnow
from ..domain.money import fmt, money_sum
from ..domain.statuses import InvoiceStatus
from ..retry import retry_on_conflict
from . import cursor, invoices
from .ports import stores

GATEWAY = "stripe"
ACTOR = "stripe"  # who history says recorded what Stripe's events say
PAYMENT_SUCCEEDED = "payment_intent.succeeded"
CHARGE_REFUNDED = "charge.refunded"
IGNORED = "ignored"
REFUND_ACTION = "refund made in Stripe"  # history's word for a refund made outside OrderDesk


@dataclass(frozen=True)
class Receipt:
    """What one delivery did: `outcome` recorded, already_recorded, unmatched or ignored."""

    event_id: str
    type: str
    outcome: str
    reason: str | None = None
    invoice_id: str | None = None
    redelivered: bool = False  # the event was kept already: this delivery changed nothing


def receive(payload: bytes, signature: str | None) -> Receipt:
    """One delivery of POST /gateways/stripe/webhook: verify it (400 when it is not Stripe's),
    then act on it once."""
    event = verified_event(payload, signature)
    event_id, kind = event["id"], event["type"]
    if kind not in (PAYMENT_SUCCEEDED, CHARGE_REFUNDED):
        return Receipt(event_id=event_id, type=kind, outcome=IGNORED)
    kept_events = stores().gateway_events
    kept = kept_events.get_event(GATEWAY, event_id)
    if kept is None:
        obj = _dict(event["data"].get("object"))
        base = GatewayEvent(gateway=GATEWAY, id=event_id, type=kind, received_at=iso(utcnow()), outcome=UNMATCHED)
        found = _payment(base, obj) if kind == PAYMENT_SUCCEEDED else _refund(base, obj)
        if kept_events.put_event(found):
            return _receipt(found)
        kept = kept_events.get_event(GATEWAY, event_id)  # a delivery at the same time kept it first
        if kept is None:  # pragma: no cover - put refused, yet nothing there: expired between two reads
            return _receipt(found)
    return replace(_receipt(kept), redelivered=True)


def list_unmatched(limit: int, after: str | None) -> tuple[list[GatewayEvent], str | None]:
    """Stripe's events OrderDesk could not match, newest first; the next page's cursor."""
    fp = cursor.fingerprint({"unmatched": GATEWAY})
    page: GatewayEventPage = stores().gateway_events.list_unmatched(
        GATEWAY, limit, cursor.decode(after, fp) if after else None)
    return page.events, cursor.encode(page.last_key, fp) if page.last_key else None


def _receipt(event: GatewayEvent) -> Receipt:
    return Receipt(event_id=event.id, type=event.type, outcome=event.outcome, reason=event.reason,
                   invoice_id=event.invoice_id)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _id_of(value: Any) -> str:
    """An id Stripe gives as a string or, expanded, as an object with one."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else ""


def _amount(base: GatewayEvent, obj: dict[str, Any], field: str) -> tuple[GatewayEvent, Decimal | None]:
    """The event with the amount and currency Stripe gave (exactly, in the currency's unit)."""
    units, currency = obj.get(field), obj.get("currency")
    if not isinstance(currency, str) or not currency:
        return base, None
    code = currency.upper()
    if isinstance(units, bool) or not isinstance(units, int):
        return replace(base, currency=code), None
    amount = from_minor_units(units, code)
    return replace(base, amount=format(amount, "f"), currency=code), amount


def _unmatched(event: GatewayEvent, reason: str) -> GatewayEvent:
    return replace(event, outcome=UNMATCHED, reason=reason)


def _mismatch(event: GatewayEvent, amount: Decimal | None, invoice: Invoice) -> str | None:
    """Why the event's money cannot go on the invoice (None: it can)."""
    if amount is None or event.currency is None:
        return "the event carries no amount or currency"
    if event.currency != invoice.currency:
        return f"the event is in {event.currency}, invoice {invoice.id} in {invoice.currency}"
    if currencies.places(amount) > 2:
        return f"{event.amount} {event.currency} has more decimal places than OrderDesk keeps (2)"
    if amount <= 0:
        return "the amount is not more than zero"
    return None


# -- payment_intent.succeeded ------------------------------------------------------------------


def _payment(base: GatewayEvent, intent: dict[str, Any]) -> GatewayEvent:
    intent_id = _id_of(intent.get("id"))
    charges = _dict(intent.get("charges")).get("data")  # older API versions list the charges
    charge_id = _id_of(intent.get("latest_charge")) or (_id_of(charges[0]) if isinstance(charges, list) and charges
                                                        else "")
    invoice_id = _text(_dict(intent.get("metadata")).get("invoice_id"))
    event, amount = _amount(replace(base, object_id=intent_id or None, invoice_id=invoice_id), intent,
                            "amount_received")
    if not intent_id:
        return _unmatched(event, "the event names no payment intent")
    if not invoice_id:
        return _unmatched(event, "the payment intent has no metadata.invoice_id")
    try:
        invoice = stores().invoices.get_invoice(invoice_id)
    except NotFound:
        return _unmatched(event, f"no invoice {invoice_id}")
    refs = {intent_id, charge_id} - {""}
    if any(t.type == "payment" and t.gateway == GATEWAY and t.transaction_id in refs for t in invoice.transactions):
        _note(refs, invoice_id)  # again: a delivery that died after recording it may not have
        return replace(event, outcome=ALREADY_RECORDED)  # another event of this payment, or typed in
    holder = stores().gateway_events.invoice_of_payment(GATEWAY, [charge_id, intent_id])
    if holder == invoice_id:
        return replace(event, outcome=ALREADY_RECORDED)  # its charge was recorded, under another event
    if holder is not None:
        return _unmatched(event, f"Stripe payment {charge_id or intent_id} is already recorded on invoice {holder}")
    why = _mismatch(event, amount, invoice)
    if why:
        return _unmatched(event, why)
    assert amount is not None
    if invoice.status in invoices.PAYABLE and amount != invoice.balance:
        # a payment intent is made for what is due: another amount is a mistake to look at (an
        # amount read with the wrong exponent, a stale total), not a part payment to book
        return _unmatched(event, f"{event.amount} {event.currency} is not the balance due on invoice {invoice_id} "
                                 f"({fmt(invoice.balance)} {invoice.currency})")
    from ..schemas import PaymentIn  # the model of a payment typed in: one validation of a payment

    cmd = PaymentIn.model_validate({"amount": fmt(amount), "gateway": GATEWAY, "transaction_id": intent_id})
    try:
        invoices.record_payment(invoice_id, cmd, ACTOR)
    except DuplicateTransaction as exc:
        holder = exc.detail.get("invoice_id")  # which invoice has it (the guard of its transaction id says)
        if holder and holder != invoice_id:
            return _unmatched(event, f"payment {intent_id} is already recorded on invoice {holder}")
        return replace(event, outcome=ALREADY_RECORDED)
    except NotFound:
        return _unmatched(event, f"no invoice {invoice_id}")
    except TransitionNotAllowed:
        current = stores().invoices.get_invoice(invoice_id)
        if any(t.type == "payment" and t.gateway == GATEWAY and t.transaction_id in refs
               for t in current.transactions):
            return replace(event, outcome=ALREADY_RECORDED)  # a delivery at the same time recorded it
        return _unmatched(event, f"invoice {invoice_id} is {current.status.value}: it takes no payment")
    except ValidationFailed:
        current = stores().invoices.get_invoice(invoice_id)
        return _unmatched(event, f"{event.amount} {event.currency} is more than invoice {invoice_id}'s balance "
                                 f"due ({fmt(current.balance)})")
    _note(refs, invoice_id)
    return replace(event, outcome=RECORDED)


def _note(refs: set[str], invoice_id: str) -> None:
    """Where the payment is, by the payment intent and by its charge (a refund names the charge)."""
    for ref in sorted(refs):
        stores().gateway_events.note_payment(GATEWAY, ref, invoice_id)


# -- charge.refunded ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _StripeRefund:
    id: str
    amount: Decimal


def _refund(base: GatewayEvent, charge: dict[str, Any]) -> GatewayEvent:
    charge_id, intent_id = _id_of(charge.get("id")), _id_of(charge.get("payment_intent"))
    invoice_id = _text(_dict(charge.get("metadata")).get("invoice_id")) or stores().gateway_events.invoice_of_payment(GATEWAY, [intent_id, charge_id])
    event, refunded = _amount(replace(base, object_id=charge_id or None, invoice_id=invoice_id), charge,
                              "amount_refunded")
    if not charge_id:
        return _unmatched(event, "the event names no charge")
    if not invoice_id:
        return _unmatched(event, f"no invoice has Stripe payment {intent_id or charge_id}")
    refs = {charge_id, intent_id} - {""}
    listed = _listed_refunds(charge, event.currency)
    order_id = order_id_of_invoice(invoice_id)
    if order_id is None:
        return _unmatched(event, f"no invoice {invoice_id}")

    def record() -> GatewayEvent:
        try:
            order = stores().orders.get_order(order_id)  # whole: a change of its invoice recomputes attention
        except NotFound:
            return _unmatched(event, f"no invoice {invoice_id}")
        invoice = order.invoice
        if invoice is None:
            return _unmatched(event, f"no invoice {invoice_id}")
        payment = next((t for t in invoice.transactions
                        if t.type == "payment" and t.gateway == GATEWAY and t.transaction_id in refs), None)
        if payment is None:
            return _unmatched(event, f"invoice {invoice_id} has no Stripe payment {intent_id or charge_id}")
        why = _mismatch(event, refunded, invoice)
        if why:
            return _unmatched(event, why)
        assert refunded is not None
        done = [t for t in invoice.transactions if t.type == "refund" and t.refund_of == payment.id]
        new = _new_refunds(event, refunded, listed, done)
        if not new:
            return replace(event, outcome=ALREADY_RECORDED)  # OrderDesk's own refund, or a redelivery
        if money_sum(t.amount for t in done) + money_sum(n.amount for n in new) > payment.amount:
            return _unmatched(event, f"Stripe refunded {event.amount} {event.currency} of payment "
                                     f"{payment.transaction_id} of {fmt(payment.amount)}")
        now = iso(utcnow())
        before = invoice.status
        invoice.transactions += [Transaction(id=new_id(), type="refund", gateway=GATEWAY, transaction_id=n.id,
                                             amount=n.amount, at=now, refund_of=payment.id) for n in new]
        if invoice.refunded_amount() >= invoice.paid_amount() and before is not InvoiceStatus.REFUNDED:
            invoice.status = InvoiceStatus.REFUNDED
        history = HistoryEntry(
            at=now, actor=ACTOR, action=REFUND_ACTION, from_=before.value, to=invoice.status.value,
            detail=f"{', '.join(f'{fmt(n.amount)} {invoice.currency} ({n.id})' for n in new)} of payment "
                   f"{payment.transaction_id}, refunded outside OrderDesk",
            amount=money_sum(n.amount for n in new), currency=invoice.currency)
        stores().writes.apply(order, OrderChange(invoice=invoice, history=[history]))
        return replace(event, outcome=RECORDED)

    return retry_on_conflict(record)


def _listed_refunds(charge: dict[str, Any], currency: str | None) -> list[_StripeRefund] | None:
    """The charge's refunds as the event lists them (older API versions expand them), those that
    did not fail; None when the event lists none (newer versions: only `amount_refunded`)."""
    refunds = charge.get("refunds")
    data = refunds.get("data") if isinstance(refunds, dict) else None
    if not isinstance(data, list) or not data or currency is None:
        return None
    out = []
    for refund in data:
        if not isinstance(refund, dict) or refund.get("status") in ("failed", "canceled"):
            continue
        refund_id, units = _id_of(refund.get("id")), refund.get("amount")
        if refund_id and isinstance(units, int) and not isinstance(units, bool):
            out.append(_StripeRefund(id=refund_id, amount=from_minor_units(units, currency)))
    return out


def _new_refunds(event: GatewayEvent, refunded: Decimal, listed: list[_StripeRefund] | None,
                 done: list[Transaction]) -> list[_StripeRefund]:
    """The refunds of the charge the invoice does not have. Listed ones by their Stripe id; else
    what Stripe's total refunded exceeds the recorded refunds by, as one refund named by the event
    (recorded under the event's id, so the same event never adds it twice)."""
    recorded_ids = {t.transaction_id for t in done}
    if listed is not None:
        return [n for n in listed if n.id not in recorded_ids]
    missing = refunded - money_sum(t.amount for t in done)
    return [_StripeRefund(id=event.id, amount=missing)] if missing > 0 else []
