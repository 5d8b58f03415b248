"""Which action may run from which order status, and what it leaves behind (docs/actions.md)."""

from __future__ import annotations

from .errors import TransitionNotAllowed
from .statuses import ActionType, OrderStatus

_ALLOWED_FROM: dict[ActionType, frozenset[OrderStatus]] = {
    ActionType.ACCEPT: frozenset({OrderStatus.PENDING}),
    ActionType.CANCEL: frozenset({OrderStatus.PENDING, OrderStatus.ACTIVE}),
    ActionType.CANCEL_REFUND: frozenset({OrderStatus.PENDING, OrderStatus.ACTIVE}),
    ActionType.FRAUD: frozenset({OrderStatus.PENDING, OrderStatus.ACTIVE, OrderStatus.CANCELLED}),
    ActionType.PENDING: frozenset({OrderStatus.ACTIVE, OrderStatus.CANCELLED, OrderStatus.FRAUD}),
    ActionType.DELETE: frozenset({OrderStatus.CANCELLED, OrderStatus.FRAUD}),
    # per-item module commands: on an order of any status (each item's own state decides)
    ActionType.ITEM_COMMAND: frozenset(OrderStatus),
}

TARGET_STATUS: dict[ActionType, OrderStatus] = {
    ActionType.ACCEPT: OrderStatus.ACTIVE,
    ActionType.CANCEL: OrderStatus.CANCELLED,
    ActionType.CANCEL_REFUND: OrderStatus.CANCELLED,
    ActionType.FRAUD: OrderStatus.FRAUD,
    ActionType.PENDING: OrderStatus.PENDING,
}

# A bulk status change moves an order as the single action with that target would (docs/actions.md, "Bulk status changes").
BULK_ACTION_FOR_TARGET: dict[OrderStatus, ActionType] = {
    OrderStatus.ACTIVE: ActionType.ACCEPT,
    OrderStatus.CANCELLED: ActionType.CANCEL,
    OrderStatus.FRAUD: ActionType.FRAUD,
    OrderStatus.PENDING: ActionType.PENDING,
}


def allowed_from(action: ActionType) -> frozenset[OrderStatus]:
    return _ALLOWED_FROM[action]


def check_transition(action: ActionType, current: OrderStatus) -> None:
    if current not in _ALLOWED_FROM[action]:
        allowed = ", ".join(sorted(s.value for s in _ALLOWED_FROM[action]))
        raise TransitionNotAllowed(
            f"cannot {action.value.replace('_', ' ')} an order that is {current.value} (allowed from: {allowed})",
            current=current.value,
            action=action.value,
        )


def available_actions(current: OrderStatus) -> list[str]:
    """The order-level actions (Accept, Cancel...) allowed now; item commands are per item."""
    return [a.value for a, allowed in _ALLOWED_FROM.items() if current in allowed and a is not ActionType.ITEM_COMMAND]

