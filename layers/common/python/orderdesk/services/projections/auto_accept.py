"""AUTO_ACCEPT=paid (SPEC §9): a paid order is accepted without waiting for a person, the moment
it can be, triggered by the table's stream rather than by polling.

Two changes can make an order acceptable, and both come by as records of its partition:

* its invoice becomes Paid from a status that takes payments (by Stripe's webhook, a payment typed
  in, or credit: whatever recorded the payment); an invoice re-opened as Paid by Set Back to
  Pending is no payment and accepts nothing;
* its fraud check gets a passing result (`accept`) while the invoice is Paid already (the payment
  came before the screening, which runs on the stream too).

Then the order, read again, must be Pending, not flagged for review, with its screening passed or
skipped (never one that errored, was rejected, or has not run yet). The Accept workflow starts as
the manual Accept does (`actions.start_action`) with the default choices: products on the item's
server, usernames generated, the welcome email sent; actor `automation`.

Once: the start takes the order's lock conditionally, so a racing manual Accept and this one never
both run (the loser gets a 409, or here nothing), and its idempotency key is the same for every
trigger of the order, so a redelivered record, or the second of the two triggers, finds the
action already started and starts nothing. The same key makes it once per order for good: an
order set back to pending and paid again waits for a person."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...config import get_settings
from ...domain.errors import ActionInProgress, OrderNotFound, TransitionNotAllowed
from ...domain.model import Action, Order
from ...domain.statuses import ActionType, InvoiceStatus, OrderStatus, PaymentStatus
from ...observability import logger
from ..invoices import PAYABLE
from ..ports import stores

if TYPE_CHECKING:
    from . import StreamChange

ACTOR = "automation"
IDEMPOTENCY_KEY = "auto-accept"  # one per order: action_id_for hashes it with the order's id
PASSED = "accept"  # the fraud decision that lets an order through


def handle(change: StreamChange) -> None:
    if get_settings().auto_accept != "paid":
        return
    order_id = _trigger(change)
    if order_id is not None:
        accept_if_ready(order_id)


def _trigger(change: StreamChange) -> str | None:
    """The order a change may have made acceptable, or None."""
    read = stores().images
    if change.kind == "invoice":
        before, after = read.invoice(change.old), read.invoice(change.new)
        if after is not None and after.status is InvoiceStatus.PAID and before is not None \
                and before.status in PAYABLE:
            return after.order_id
        return None
    if change.kind == "fraud_check":
        old, new = read.fraud_check(change.old), read.fraud_check(change.new)
        if new is not None and new.decision == PASSED and (old is None or old.decision != PASSED):
            return read.order_id(change.keys)
    return None


def why_not(order: Order) -> str | None:
    """Why the order is not accepted automatically now (None: it is to be)."""
    if order.status is not OrderStatus.PENDING:
        return f"it is {order.status.value}"
    if order.payment_status is not PaymentStatus.PAID:
        return "its invoice is not paid"
    if order.flagged_for_review:
        return "it is flagged for review"
    if order.skip_fraud_check:
        return None
    check = order.fraud_check
    if check is None:
        return "its fraud check has not run yet"
    if check.decision != PASSED:
        return f"its fraud check decided {check.decision}"
    return None


def accept_if_ready(order_id: str) -> Action | None:
    """Start the Accept workflow for the order if it is acceptable now; the action, or None."""
    from .. import actions  # the workflows' use cases: only when an order is to be accepted

    try:
        order = stores().orders.get_order_header(order_id)
    except OrderNotFound:
        return None
    reason = why_not(order)
    if reason is not None:
        logger.info("not accepted automatically", extra={"order_id": order_id, "reason": reason})
        return None
    params: dict[str, Any] = {"items": {}, "send_welcome_email": True, "idempotency_key": IDEMPOTENCY_KEY}
    try:
        action = actions.start_action(order_id, ActionType.ACCEPT, params, ACTOR)
    except (ActionInProgress, TransitionNotAllowed) as exc:
        # a person (or this, delivered twice) got there first: one Accept, and this one is nothing
        logger.info("not accepted automatically", extra={"order_id": order_id, "reason": exc.message})
        return None
    logger.info("accepted automatically", extra={"order_id": order_id, "action_id": action.id})
    return action
