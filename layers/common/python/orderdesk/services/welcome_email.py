"""Send an order's welcome email again (POST /orders/{order_id}/welcome-email): the message
Accept sends (`accept_steps.welcome_message`), listing the order's Active items, to the client's
current address (a corrected address is the usual reason to send it again), recorded in the
order's history. Each call sends one: a retried click is kept from sending twice by the request's
Idempotency-Key (the portal sends one)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..adapters.email import email_port
from ..domain.errors import NotFound, TransitionNotAllowed
from ..domain.model import HistoryEntry, iso, new_id, utcnow
from ..domain.statuses import ItemStatus
from .accept_steps import welcome_message
from .ports import stores

WELCOME_AGAIN_SENT = "welcome email sent again"


def send_again(order_id: str, actor: str) -> dict[str, Any]:
    data = stores()
    order = data.orders.get_order(order_id)  # OrderNotFound: 404
    items = [item for item in order.items if item.status is ItemStatus.ACTIVE]
    if not items:
        raise TransitionNotAllowed(f"order {order_id} has no Active item for a welcome email to list "
                                   "(Accept provisions them)", current=order.status.value)
    try:
        client = data.clients.get_client(order.client.id)
        order = replace(order, client=replace(order.client, name=client.name, email=client.email))
    except NotFound:
        pass  # the client as at ordering, then
    sent_at = iso(utcnow())
    reference = email_port().send(welcome_message(order, items), key=f"welcome-again-{order.id}-{new_id()}")
    data.writes.add_history(order.id, HistoryEntry(
        at=sent_at, actor=actor, action=WELCOME_AGAIN_SENT, from_=None, to=None,
        detail=f"to {order.client.email} ({reference}): {len(items)} item(s)"))
    return {"sent_to": order.client.email, "sent_at": sent_at,
            "items": [{"id": i.id, "description": i.description, "domain": i.domain, "username": i.username}
                      for i in items]}
