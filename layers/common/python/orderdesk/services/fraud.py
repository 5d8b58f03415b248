"""Fraud screening of orders (SPEC §4): gather what is known about an order, let the configured
provider score it, store the result on the order, and act on the decision — reject: the Set as
Fraud workflow (the manual action's own), started as `fraud-screening`; review: the order stays
Pending, flagged for review. A provider failure is stored as decision "error" (the order stays
Pending) and the caller decides whether to retry (the stream consumer raises)."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..adapters.fraud import FraudProviderError, ScreeningInput, get_provider
from ..config import get_settings
from ..domain.changes import OrderChange
from ..domain.errors import ConcurrentUpdate, OrderNotFound, PermanentError, TransitionNotAllowed
from ..domain.model import FraudCheck, HistoryEntry, Order, iso, utcnow
from ..domain.statuses import ActionType, OrderStatus
from ..observability import logger
from ..retry import retry_on_conflict
from . import actions
from .ports import stores

SCREENING_ACTOR = "fraud-screening"


def decide(score: int) -> str:
    settings = get_settings()
    if score >= settings.fraud_reject_threshold:
        return "reject"
    if score >= settings.fraud_review_threshold:
        return "review"
    return "accept"


def screen_new_order(order_id: str) -> FraudCheck | None:
    """The stream's use case: screen an order once. A redelivered record finds the stored result
    (and still starts the fraud workflow if a reject's start was lost); a stored error is retried."""
    try:
        order = stores().orders.get_order_header(order_id)
    except OrderNotFound:
        return None  # deleted before its record came through the stream: nothing to screen
    if order.skip_fraud_check:
        return None
    if order.fraud_check is not None and order.fraud_check.decision != "error":
        _act(order, order.fraud_check, SCREENING_ACTOR)
        return order.fraud_check
    return _screen(order, SCREENING_ACTOR)


def recheck_order(order_id: str, actor: str) -> FraudCheck:
    """POST /orders/{id}/fraud-check (support): run the screening again, whatever was stored, and
    store the new result, flagging the order on review or reject. It never sets the order as Fraud:
    that is billing's action, or the automatic screening of a new order's."""
    return _screen(stores().orders.get_order_header(order_id), actor, act=False)


def facts_of(order: Order) -> ScreeningInput:
    orders = stores().orders
    # what was known when the order was placed: a re-check of an old order counts the same day
    until = order.placed_at
    since = iso(datetime.fromisoformat(order.placed_at.replace("Z", "+00:00")) - timedelta(hours=24))
    return ScreeningInput(
        order_id=order.id,
        client_id=order.client.id,
        email=order.client.email,
        client_country=order.client.country,
        ip_address=order.ip_address,
        total=order.total,
        currency=order.currency,
        placed_at=order.placed_at,
        orders_from_ip_24h=orders.orders_of_ip_between(order.ip_address, since, until, order.id)
        if order.ip_address else 0,
        orders_of_client_24h=orders.orders_of_client_between(order.client.id, since, until, order.id),
        first_order=not orders.client_has_other_orders(order.client.id, order.id),
    )


def _screen(order: Order, actor: str, *, act: bool = True) -> FraudCheck:
    provider = get_provider()
    try:
        assessment = provider.assess(facts_of(order))
        check = FraudCheck(provider=provider.name, score=assessment.score, decision=decide(assessment.score),
                           signals=assessment.signals, checked_at=iso(utcnow()))
    except (FraudProviderError, PermanentError) as exc:
        logger.warning("fraud screening failed", extra={"order_id": order.id, "error": str(exc)})
        check = FraudCheck(provider=provider.name, score=0, decision="error", signals=[], checked_at=iso(utcnow()),
                           error=exc.message)
    order = _store(order, check, actor)
    if act:
        _act(order, check, actor)
    return check


def _store(order: Order, check: FraudCheck, actor: str) -> Order:
    data = stores()
    detail = f"{check.provider}: {check.error}" if check.error else f"{check.provider}: score {check.score}"
    current = [order]

    def store() -> None:
        order = current[0]
        flagged = check.decision in ("review", "reject")
        # the flag only when it changes: the check is a record of its own, so an accepted order's
        # record (and its three index copies) is not rewritten at all
        flag = flagged if check.decision != "error" and flagged != order.flagged_for_review else None
        entry = HistoryEntry(at=check.checked_at, actor=actor, action="fraud check", from_=None, to=check.decision,
                             detail=detail)
        try:
            data.writes.apply(order, OrderChange(fraud_check=check, flagged_for_review=flag, history=[entry]),
                              holder=order.pending_action.action_id if order.pending_action else None)
        except ConcurrentUpdate:
            current[0] = data.orders.get_order_header(order.id)
            raise

    retry_on_conflict(store)
    return current[0]


def _act(order: Order, check: FraudCheck, actor: str) -> None:
    """Reject → Set as Fraud through its workflow, for an order still Pending and free."""
    if check.decision != "reject" or order.status is not OrderStatus.PENDING:
        return
    current = stores().orders.get_order_header(order.id)
    if current.status is not OrderStatus.PENDING:
        return
    if current.pending_action is not None and current.pending_action.type == ActionType.FRAUD.value:
        return  # already on its way
    try:
        actions.start_action(order.id, ActionType.FRAUD, {"reason": f"fraud score {check.score}"}, actor)
    except TransitionNotAllowed:
        pass  # someone moved it meanwhile (accepted, cancelled, or already Fraud)
