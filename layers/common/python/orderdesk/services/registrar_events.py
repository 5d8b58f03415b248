"""A registrar's news of a domain it was given (SPEC §7): the signed event a registrar sends
(`POST /registrar/events`, no token), and what a registrar's answer does to the domain's items —
the same for an event and for the `sync_domains` schedule, which asks the registrar itself
(`domain_sync`).

Which items an answer is about: those carrying the domain name whose registration was sent to a
registrar and is not confirmed — `pending`, or `failed` (a later `active` fixes a failure) — on
any order. A domain ordered again after a cancel is on both orders; only the items still waiting at
the registrar are touched, never one not sent yet (`none`) or already `active`.

What the answer does to each, in the one write of the order's change (so the attention list is
recomputed with it):
* `active`: registration `active`; an item still waiting (Pending Registration or Transfer) becomes
  `Active` and its last error is cleared;
* `failed`: registration `failed` with the registrar's detail; on an item still waiting, the detail
  becomes its last error (attention `failed_item`; the fix is the item's `register` command).
An item whose order no longer waits for it (a cancelled order's `Cancelled` item) has its
registration recorded and nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..adapters.secret_store import secret
from ..adapters.signing import event_refusal
from ..domain.changes import UNCHANGED, ItemFields, OrderChange
from ..domain.errors import ActionInProgress, DuplicateEvent, NotFound, OrderNotFound, TransientError
from ..domain.model import DomainRegistration, HistoryEntry, Order, OrderItem, RegistrationState, iso, utcnow
from ..domain.statuses import ItemKind, ItemStatus
from ..observability import logger
from ..retry import retry_on_conflict
from .ports import stores

ACTOR = "registrar"
# the history actions of an answer applied (the activity log types them by their first word: item)
REGISTRATION_DONE_ACTION = "domain registration done"
REGISTRATION_FAILED_ACTION = "domain registration failed"
TRANSFER_DONE_ACTION = "domain transfer done"
TRANSFER_FAILED_ACTION = "domain transfer failed"
WAITING = frozenset({ItemStatus.PENDING_REGISTRATION, ItemStatus.PENDING_TRANSFER})
_UNCONFIRMED = (RegistrationState.PENDING, RegistrationState.FAILED)


@dataclass(frozen=True)
class Answer:
    """What a registrar says of a domain: `active`, `failed` (with why) or still `pending`."""

    state: str
    detail: str | None = None
    reference: str | None = None


def signature_refusal(headers: Mapping[str, str], body: bytes) -> str | None:
    """Why a request to `POST /registrar/events` is not the registrar's (None: it is): signed with
    the registrar webhook secret over `<timestamp>.<body>`, within 5 minutes."""
    return event_refusal(secret("registrar_webhook_secret"), headers, body)


def receive_event(event_id: str, domain: str, status: str, detail: str | None) -> None:
    """Apply a registrar's event once: recorded by its id in the transaction that applies it.
    DuplicateEvent when its id was received before; NotFound when no order has the domain; a
    TransientError (503, send it again later) while an action holds an order it is about."""
    data = stores()
    if data.domains.event_seen(event_id):
        raise DuplicateEvent(f"event {event_id} was received before; nothing done")
    answer = Answer(state=status, detail=detail)

    def attempt() -> bool:
        now = iso(utcnow())
        changes = []
        for order, item_ids in orders_of(domain):
            if order.pending_action is not None and any(
                    i.id in item_ids and not _active(i) for i in order.items):
                # an Accept or a register command may be sending this very domain, its answer
                # not written yet: the event is about what that write will say
                raise _busy(order)
            change = change_for(order, {item_id: answer for item_id in item_ids}, now, f"event {event_id}")
            if change is not None:
                changes.append((order, change))
        try:
            return data.domains.record_event(event_id, domain, status, changes)
        except ActionInProgress as exc:
            raise TransientError(f"{exc.message}; send the event again later") from exc

    if not retry_on_conflict(attempt):
        raise DuplicateEvent(f"event {event_id} was received before; nothing done")
    logger.info("registrar event", extra={"event_id": event_id, "domain": domain, "status": status})


def orders_of(domain: str) -> list[tuple[Order, set[str]]]:
    """Each order (read whole) with its items carrying `domain`; NotFound when there is none."""
    data = stores()
    wanted: dict[str, set[str]] = {}
    for order_id, item_id in data.domains.items_of(domain):
        wanted.setdefault(order_id, set()).add(item_id)
    found = []
    for order_id, item_ids in wanted.items():
        try:
            found.append((data.orders.get_order(order_id), item_ids))
        except OrderNotFound:
            continue  # deleted meanwhile, or a create that failed after writing its lookup
    if not found:
        raise NotFound(f"no order has a domain item {domain}")
    return found


def unconfirmed(item: OrderItem) -> bool:
    """Sent to a registrar and not confirmed: what a registrar's answer is about."""
    return (item.kind is ItemKind.DOMAIN and item.registration is not None
            and item.registration.state in _UNCONFIRMED)


def change_for(order: Order, answers: Mapping[str, Answer], now: str, source: str) -> OrderChange | None:
    """The change of `order` that registrars' `answers` (by item id) make, or None when they
    change nothing (an item not waiting, an answer already recorded, a `pending`)."""
    statuses: dict[str, ItemStatus] = {}
    fields: dict[str, ItemFields] = {}
    history: list[HistoryEntry] = []
    for item in order.items:
        answer = answers.get(item.id)
        if answer is None or answer.state == RegistrationState.PENDING or not unconfirmed(item):
            continue
        reg = item.registration
        assert reg is not None
        if reg.state == answer.state and reg.detail == answer.detail:
            continue  # said before: nothing new
        waiting = item.status in WAITING
        registered = answer.state == RegistrationState.ACTIVE
        detail = answer.detail or ("done" if registered else "the registrar gave no reason")
        new_reg = DomainRegistration(state=answer.state, reference=answer.reference or reg.reference, since=now,
                                     detail=answer.detail)
        last_error: str | None = None if registered else f"registrar: {detail}"[:500]
        fields[item.id] = ItemFields(registration=new_reg, last_error=last_error if waiting else UNCHANGED)
        to = item.status
        if registered and waiting:
            to = statuses[item.id] = ItemStatus.ACTIVE
        if item.registration_type == "transfer":
            action = TRANSFER_DONE_ACTION if registered else TRANSFER_FAILED_ACTION
        else:
            action = REGISTRATION_DONE_ACTION if registered else REGISTRATION_FAILED_ACTION
        history.append(HistoryEntry(at=now, actor=ACTOR, action=action, from_=item.status.value, to=to.value,
                                    detail=f"{item.domain} ({item.id}): {detail} ({source})"))
    if not fields:
        return None
    return OrderChange(item_statuses=statuses, item_fields=fields, history=history)


def _active(item: OrderItem) -> bool:
    return item.registration is not None and item.registration.state == RegistrationState.ACTIVE


def _busy(order: Order) -> TransientError:
    lock = order.pending_action
    assert lock is not None
    return TransientError(f"order {order.id} is held by an action ({lock.type}); send the event again later")
