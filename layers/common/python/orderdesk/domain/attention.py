"""Where what an order says and what is real disagree: the attention list an order carries.

Computed from the order as it will be after a change, by the one write path of an order's
changes, so the list is stored with the change that makes it true (and the orders needing
attention are listed from an index, never found by a scan). Domain waits depend on time passing
too: the scheduled registrar sync recomputes them."""

from __future__ import annotations

from datetime import datetime, timedelta

from .model import Attention, Order, OrderItem, RegistrationState
from .statuses import ItemKind, ItemStatus, OrderStatus

LIVE_SERVICE = "live_service"
DOMAIN_WAITING = "domain_waiting"
REFUND_OWED = "refund_owed"
FAILED_ITEM = "failed_item"
CODES = (LIVE_SERVICE, DOMAIN_WAITING, REFUND_OWED, FAILED_ITEM)

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
        for refund in order.invoice.owed_refunds():
            found.append(Attention(REFUND_OWED, None, f"refund {refund.transaction_id} of {refund.amount} "
                                                      f"{order.invoice.currency} is recorded but not yet paid back: "
                                                      f"pay it and confirm"))
    return found


def _waited_too_long(item: OrderItem, now: datetime, hours: int) -> bool:
    reg = item.registration
    if reg is None or reg.state != RegistrationState.PENDING or not reg.since:
        return False
    since = datetime.fromisoformat(reg.since.replace("Z", "+00:00"))
    return now - since > timedelta(hours=hours)
