"""Actions and the order's lock: a workflow takes the lock and records its action at once,
keeps its steps current, and ends by releasing the lock with the order's change and its outcome
in one transaction."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from ...domain.changes import OrderChange
from ...domain.errors import ActionInProgress, ConcurrentUpdate, NotFound, TransitionNotAllowed
from ...domain.model import Action, ActionStep, HistoryEntry, Order, PendingAction
from ...domain.statuses import ActionStatus, OrderStatus
from ...retry import retry_on_conflict
from . import keys, mappers
from . import records as r
from .order_writes import OrderWrites, lock_fields, order_ref
from .orders import Orders
from .table import condition_failed, conflicted, transaction, translated


@translated
class Actions:
    def __init__(self, shards: int, wait_hours: int = 24) -> None:
        self.shards = shards
        self.writes = OrderWrites(shards, wait_hours)

    def start_action(self, order: Order, action: Action, allowed: frozenset[OrderStatus],
                     history: HistoryEntry) -> None:
        """Take the order's lock for an action: status allowed, no other lock; record the action
        and its history at once. The action was planned on the invoice as read (its payments are
        what a refund returns): a payment recorded since makes the start re-plan."""
        lock = PendingAction(action_id=action.id, type=action.type, started_at=action.started_at,
                             execution_arn=action.execution_arn)
        condition = (r.OrderRecord.status.is_in(*[s.value for s in allowed])
                     & r.OrderRecord.pending_action.does_not_exist())
        try:
            with transaction() as tx:
                tx.update(order_ref(order.id, order.version), actions=lock_fields(order.id, lock, self.shards),
                          condition=condition, add_version_condition=False)
                if order.invoice is not None:
                    tx.condition_check(r.InvoiceRecord, keys.order_pk(order.id), keys.INVOICE_SK,
                                       condition=(r.InvoiceRecord.balance == order.invoice.balance)
                                       & (r.InvoiceRecord.status == order.invoice.status.value))
                tx.save(mappers.action_record(action), condition=r.ActionRecord.pk.does_not_exist())
                tx.save(mappers.history_record(order.id, history))
        except TransactWriteError as exc:
            if condition_failed(exc) or conflicted(exc):
                current = Orders(self.shards).get_order_header(order.id)
                if current.pending_action is not None:
                    raise ActionInProgress.held_by(order.id, current.pending_action) from exc
                if current.status not in allowed:
                    raise TransitionNotAllowed(f"order {order.id} is {current.status.value}",
                                               current=current.status.value) from exc
                raise ConcurrentUpdate(f"order {order.id} changed meanwhile; try again") from exc
            raise

    def set_lock_execution(self, order_id: str, action_id: str, execution_arn: str) -> None:
        """Remember which workflow execution holds the order's lock (the sweep asks it later)."""
        order = Orders(self.shards).get_order_header(order_id)
        if order.pending_action is not None and order.pending_action.action_id == action_id:
            lock = PendingAction(**{**order.pending_action.__dict__, "execution_arn": execution_arn})
            try:
                order_ref(order_id, order.version).update(actions=lock_fields(order_id, lock, self.shards),
                                                          condition=r.OrderRecord.pending_action.exists(),
                                                          add_version_condition=False)
            except UpdateError as exc:
                if not condition_failed(exc):
                    raise
        try:
            r.ActionRecord(pk=keys.order_pk(order_id), sk=keys.action_sk(action_id)).update(
                actions=[r.ActionRecord.execution_arn.set(execution_arn)], condition=r.ActionRecord.pk.exists())
        except UpdateError as exc:
            if condition_failed(exc):
                raise NotFound(f"action {action_id} of order {order_id} not found") from exc
            raise

    def get_action(self, order_id: str, action_id: str) -> Action:
        try:
            rec = r.ActionRecord.get(keys.order_pk(order_id), keys.action_sk(action_id), consistent_read=True)
        except DoesNotExist as exc:
            raise NotFound(f"action {action_id} of order {order_id} not found") from exc
        return mappers.action_from(rec)

    def set_action_step(self, order_id: str, action_id: str, step: ActionStep) -> None:
        """Add or replace (by name) one step of an action. Parallel Map iterations write steps of
        one action, so this is a compare-and-set on the stored steps."""
        wanted = {"name": step.name, "status": step.status, "error": step.error}

        def compare_and_set() -> None:
            try:
                rec = r.ActionRecord.get(keys.order_pk(order_id), keys.action_sk(action_id), consistent_read=True)
            except DoesNotExist as exc:
                raise NotFound(f"action {action_id} of order {order_id} not found") from exc
            stored = rec.steps or []
            steps = [dict(s) for s in stored]
            for i, s in enumerate(steps):
                if s.get("name") == step.name:
                    if s == wanted:
                        return
                    steps[i] = wanted
                    break
            else:
                steps.append(wanted)
            try:
                rec.update(actions=[r.ActionRecord.steps.set(steps)], condition=r.ActionRecord.steps == stored)
            except UpdateError as exc:
                if condition_failed(exc):
                    raise ConcurrentUpdate(f"steps of action {action_id} kept changing; try again") from exc
                raise

        # every iteration of a Map writes a step of this one record: many attempts, short waits
        retry_on_conflict(compare_and_set, attempts=25)

    def end_action(self, order: Order, change: OrderChange, action: Action) -> None:
        """The last write of an action holding the order's lock: the order's change (statuses,
        lock released, history) and the action's outcome in one transaction. `order` must have
        been read holding the lock: its version guard then proves the lock is still the action's."""
        def outcome(tx: TransactWrite) -> None:
            tx.save(mappers.action_record(action), condition=r.ActionRecord.status == ActionStatus.RUNNING.value)

        self.writes.run(order.id, [self.writes.change_op(order, change, holder=action.id), outcome], holder=action.id)

    def close_action(self, action: Action, history: HistoryEntry | None = None) -> bool:
        """Store the outcome of an action that no longer holds its order's lock; False when the
        action had already ended."""
        try:
            with transaction() as tx:
                tx.save(mappers.action_record(action), condition=r.ActionRecord.status == ActionStatus.RUNNING.value)
                if history is not None:
                    tx.save(mappers.history_record(action.order_id, history))
        except TransactWriteError as exc:
            if condition_failed(exc):
                return False
            if conflicted(exc):
                raise ConcurrentUpdate(f"action {action.id} changed meanwhile; try again") from exc
            raise
        return True
