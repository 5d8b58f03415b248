"""The `sync_domains` schedule (a cleanup rule): ask the registrar about every domain still waiting
at it, apply each answer as a registrar's event would be applied (`registrar_events.change_for`),
and recompute the attention list of the orders whose domains have waited past `DOMAIN_WAIT_HOURS`.

Time passing is the one input of the attention list that no write carries: a domain sent to its
registrar 23 hours ago needs no attention, the same domain an hour later does (`domain_waiting`).
This rule is what notices; it writes an order only when its list (or a registration) changes.

The waiting domains are read from the sparse `DOMAINWAIT` entries of the `by_type` index (a
registration that is pending), never by a scan. An order an action holds is left for the next run
(the action's end recomputes its list anyway); a registrar that cannot be asked is collected as an
error, so the run fails (and alarms) after it has done what it could."""

from __future__ import annotations

from ..adapters.registrars import RegistrarStatus, StatusQuery, registrar_for
from ..config import get_settings
from ..domain.attention import DOMAIN_WAITING, attention_of
from ..domain.changes import OrderChange
from ..domain.errors import ActionInProgress, ConcurrentUpdate, OrderDeskError, OrderNotFound
from ..domain.model import HistoryEntry, Order, OrderItem, RegistrationState, iso, utcnow
from ..observability import logger
from ..retry import retry_on_conflict
from .cleanup import RuleReport
from .ports import stores
from .registrar_events import ACTOR, Answer, change_for

RULE = "sync_domains"
WAITING_ACTION = "domain waiting too long"  # history: the wait noticed (an item's entry in the activity log)


def sync_domains() -> RuleReport:
    report = RuleReport(RULE)
    waiting: dict[str, list[str]] = {}
    for order_id, item_id in stores().domains.waiting():
        waiting.setdefault(order_id, []).append(item_id)
    for order_id, item_ids in waiting.items():
        report.examined += len(item_ids)
        try:
            changed = _sync_order(order_id, set(item_ids), report)
        except (OrderNotFound, ActionInProgress, ConcurrentUpdate) as exc:
            # gone, or an action took it meanwhile: the next run looks again
            logger.info("sync_domains: order skipped", extra={"order_id": order_id, "reason": str(exc)})
            changed = False
        except Exception as exc:  # collected, the others still run; raised by run_rules
            report.errors[order_id] = f"{type(exc).__name__}: {exc}"
            logger.exception("sync_domains: order failed", extra={"order_id": order_id})
            continue
        (report.changed if changed else report.skipped).append(order_id)
    return report


def _sync_order(order_id: str, item_ids: set[str], report: RuleReport) -> bool:
    data = stores()
    order = data.orders.get_order(order_id)
    if order.pending_action is not None:
        return False
    answers: dict[str, Answer] = {}
    for item in order.items:
        if item.id in item_ids and item.registration is not None \
                and item.registration.state == RegistrationState.PENDING:
            try:
                status = _ask(order, item)
            except OrderDeskError as exc:  # this domain's answer is missing; the others still count
                report.errors[f"{order_id}/{item.id}"] = f"{type(exc).__name__}: {exc.message}"
                continue
            answers[item.id] = Answer(state=status.state, detail=status.detail, reference=status.reference)

    def write() -> bool:
        current = data.orders.get_order(order_id)
        if current.pending_action is not None:
            return False
        now = utcnow()
        change = change_for(current, answers, iso(now), f"asked by {RULE}") or OrderChange()
        hours = get_settings().domain_wait_hours
        was = current.attention
        became = attention_of(change.after(current), now, hours)
        if change.item_fields == {} and became == was:
            return False  # nothing new, not even the time
        change.refresh_attention = True
        for new in (a for a in became if a.code == DOMAIN_WAITING and a not in was):
            change.history.append(HistoryEntry(at=iso(now), actor=ACTOR, action=WAITING_ACTION,
                                               from_=None, to=None, detail=f"{new.message} ({RULE})"))
        data.writes.apply(current, change)
        return True

    return retry_on_conflict(write)


def _ask(order: Order, item: OrderItem) -> RegistrarStatus:
    reg = item.registration
    return registrar_for(item.registrar).status(StatusQuery(
        order_id=order.id, item_id=item.id, domain=item.domain or "",
        registration_type=item.registration_type or "register", reference=reg.reference if reg else None))
