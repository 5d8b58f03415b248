"""Where what an order says and what is real disagree: the attention list an order carries.

Computed from the order as it will be after a change, by the one write path of an order's
changes, so the list is stored with the change that makes it true (and the orders needing
attention are listed from an index, never found by a scan). Domain waits depend on time passing
too: the scheduled registrar sync recomputes them."""

from __future__ import annotations

from datetime import datetime, timedelta

from .model import Attention, Order, OrderItem, RegistrationState
from .money import ZERO
from .statuses import ItemKind, ItemStatus, OrderStatus

LIVE_SERVICE = "live_service"
DOMAIN_WAITING = "domain_waiting"
REFUND_OWED = "refund_owed"
FAILED_ITEM = "failed_item"
PART_PAID = "part_paid"
CODES = (LIVE_SERVICE, DOMAIN_WAITING, REFUND_OWED, FAILED_ITEM, PART_PAID)

# an account on a server is a service the client uses: it must not outlive the order's end
_NOT_SERVING = frozenset({OrderStatus.CANCELLED, OrderStatus.FRAUD, OrderStatus.PENDING})
_WAITING = frozenset({ItemStatus.PENDING_REGISTRATION, ItemStatus.PENDING_TRANSFER})


def _label(item: OrderItem) -> str:
    return item.domain or item.description


def attention_of(order: Order, now: datetime, domain_wait_hours: int) -> list[Attention]:
    """The attention list of `order` (with its items and invoice) at `now`."""
    found: list[Attention] = []
    for item in order.items:
        if item.account.exists and order.status in _NOT_SERVING:
            found.append(Attention(LIVE_SERVICE, item.id, f"{_label(item)} still has an account on its server "
                                                          f"({item.account.username or 'no username'}) though "
                                                          f"the order is {order.status.value}: terminate it"))
        if item.kind is ItemKind.DOMAIN and item.status in _WAITING and _waited_too_long(item, now, domain_wait_hours):
            found.append(Attention(DOMAIN_WAITING, item.id, f"{_label(item)} has waited for its registrar "
                                                            f"over {domain_wait_hours} h ({item.status.value})"))
        if item.last_error:
            found.append(Attention(FAILED_ITEM, item.id, f"the last command on {_label(item)} failed: "
                                                         f"{item.last_error[:200]}"))
    if order.invoice is not None:
        invoice = order.invoice
        for refund in invoice.owed_refunds():
            paid = next((t for t in invoice.transactions if t.id == refund.refund_of), None)
            what = f"{paid.gateway} payment {paid.transaction_id}" if paid else "a payment"
            found.append(Attention(REFUND_OWED, None, f"refund {refund.id} of {refund.amount} {invoice.currency} "
                                                      f"({what}) is recorded but not yet paid back: pay it back "
                                                      f"and confirm it"))
        if part_paid(order):
            found.append(Attention(PART_PAID, None, f"{invoice.paid_amount() - invoice.refunded_amount()} "
                                                    f"{invoice.currency} is paid and {invoice.balance} still due on "
                                                    f"this pending order: take the rest, or cancel and refund"))
    return found


def part_paid(order: Order) -> bool:
    """A Pending order whose invoice holds money paid (payments less refunds) with a balance still
    due: neither unpaid (cancelling it would keep what was paid) nor paid. A person decides."""
    invoice = order.invoice
    if order.status is not OrderStatus.PENDING or invoice is None:
        return False
    return invoice.paid_amount() - invoice.refunded_amount() > ZERO and invoice.balance > ZERO


def _waited_too_long(item: OrderItem, now: datetime, hours: int) -> bool:
    reg = item.registration
    if reg is None or reg.state != RegistrationState.PENDING or not reg.since:
        return False
    since = datetime.fromisoformat(reg.since.replace("Z", "+00:00"))
    return now - since > timedelta(hours=hours)
