"""Actions and the order's lock in memory (`ActionStore`), with the semantics of
`adapters.store.actions`."""

from __future__ import annotations

from orderdesk.domain.changes import OrderChange
from orderdesk.domain.errors import ActionInProgress, ConcurrentUpdate, NotFound, OrderNotFound, TransitionNotAllowed
from orderdesk.domain.model import Action, ActionStep, HistoryEntry, Order, PendingAction
from orderdesk.domain.statuses import ActionStatus, OrderStatus

from .credit import money_refusal
from .order_writes import attention_after, change_holds, write_change
from .state import MemoryState, clone


class MemoryActions:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    def start_action(self, order: Order, action: Action, allowed: frozenset[OrderStatus],
                     history: HistoryEntry) -> None:
        """The lock taken (status allowed, no other lock, the invoice's balance and status as read),
        the action recorded and the history written, at once. The version is not a condition
        here, but it is bumped."""
        with self.s.lock:
            p = self.s.partition(order.id)
            current = p.header if p is not None else None
            holds = current is not None and current.status in allowed and current.pending_action is None
            if holds and order.invoice is not None:
                stored = p.invoice if p is not None else None
                holds = (stored is not None and stored.balance == order.invoice.balance
                         and stored.status is order.invoice.status)
            holds = holds and p is not None and action.id not in p.actions
            if p is None or current is None or not holds:
                if current is None:
                    raise OrderNotFound(f"order {order.id} not found", order_id=order.id)
                if current.pending_action is not None:
                    raise ActionInProgress.held_by(order.id, current.pending_action)
                if current.status not in allowed:
                    raise TransitionNotAllowed(f"order {order.id} is {current.status.value}",
                                               current=current.status.value)
                raise ConcurrentUpdate(f"order {order.id} changed meanwhile; try again")
            current.pending_action = PendingAction(action_id=action.id, type=action.type,
                                                   started_at=action.started_at, execution_arn=action.execution_arn)
            current.version += 1
            p.actions[action.id] = clone(action)
            self.s.add_history(order.id, history)

    def set_lock_execution(self, order_id: str, action_id: str, execution_arn: str) -> None:
        with self.s.lock:
            p = self.s.partition(order_id)
            if p is None or p.header is None:
                raise OrderNotFound(f"order {order_id} not found", order_id=order_id)
            lock = p.header.pending_action
            if lock is not None and lock.action_id == action_id:
                lock.execution_arn = execution_arn
                p.header.version += 1
            if action_id not in p.actions:
                raise NotFound(f"action {action_id} of order {order_id} not found")
            p.actions[action_id].execution_arn = execution_arn

    def get_action(self, order_id: str, action_id: str) -> Action:
        with self.s.lock:
            p = self.s.partition(order_id)
            if p is None or action_id not in p.actions:
                raise NotFound(f"action {action_id} of order {order_id} not found")
            return clone(p.actions[action_id])

    def set_action_step(self, order_id: str, action_id: str, step: ActionStep) -> None:
        """Add or replace (by name) one step."""
        with self.s.lock:
            p = self.s.partition(order_id)
            if p is None or action_id not in p.actions:
                raise NotFound(f"action {action_id} of order {order_id} not found")
            steps = p.actions[action_id].steps
            wanted = ActionStep(name=step.name, status=step.status, error=step.error)
            for i, s in enumerate(steps):
                if s.name == step.name:
                    steps[i] = wanted
                    break
            else:
                steps.append(wanted)

    def end_action(self, order: Order, change: OrderChange, action: Action) -> None:
        """The order's change (as the action holding its lock) and the action's outcome at once;
        only while the action is still RUNNING."""
        with self.s.lock:
            attention = attention_after(self.s, order, change, holder=action.id)
            p = self.s.partition(order.id)
            stored = p.actions.get(action.id) if p is not None else None
            money = money_refusal(self.s, change)  # as any change of the order: its money first
            if money is not None:
                raise money
            if (p is None or not change_holds(self.s, p, order, change, holder=action.id) or stored is None
                    or stored.status is not ActionStatus.RUNNING):
                self.s.refused(order.id, holder=action.id)
            write_change(self.s, p, order, change, attention)
            p.actions[action.id] = clone(action)

    def close_action(self, action: Action, history: HistoryEntry | None = None) -> bool:
        with self.s.lock:
            p = self.s.partition(action.order_id)
            stored = p.actions.get(action.id) if p is not None else None
            if p is None or stored is None or stored.status is not ActionStatus.RUNNING:
                return False
            p.actions[action.id] = clone(action)
            if history is not None:
                self.s.add_history(action.order_id, history)
            return True
