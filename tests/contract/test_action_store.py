"""ActionStore: an action takes the order's lock and is recorded at once, keeps its steps, and
ends by releasing the lock with its change and outcome, once."""

from __future__ import annotations

import pytest

from orderdesk.domain.changes import OrderChange
from orderdesk.domain.errors import ActionInProgress, ConcurrentUpdate, NotFound, OrderNotFound, TransitionNotAllowed
from orderdesk.domain.model import ActionStep, Transaction
from orderdesk.domain.statuses import ActionStatus, InvoiceStatus, ItemStatus, OrderStatus
from orderdesk.services.ports import Stores
from tests.contract.builders import LATER, entry, lock, move, new_action, place

CANCELLABLE = frozenset({OrderStatus.PENDING, OrderStatus.ACTIVE})


def test_start_action_takes_the_lock_records_the_action_and_its_history(stores_impl: Stores) -> None:
    # GIVEN a pending order read whole
    order = place(stores_impl)
    action = new_action(order)
    # WHEN a cancel starts on it
    stores_impl.actions.start_action(order, action, CANCELLABLE, entry("cancel started"))
    # THEN the order carries the action's lock, the action is stored as given, the history says so
    after = stores_impl.orders.get_order(order.id)
    assert after.pending_action is not None
    assert (after.pending_action.action_id, after.pending_action.type, after.pending_action.started_at) == (
        action.id, "cancel", LATER)
    assert after.actions == [action] and stores_impl.actions.get_action(order.id, action.id) == action
    assert after.history[-1].action == "cancel started"
    assert after.version > order.version


def test_start_action_from_a_status_not_allowed_is_refused_as_a_transition(stores_impl: Stores) -> None:
    # GIVEN a fraud order
    order = place(stores_impl, status=OrderStatus.FRAUD)
    # WHEN a cancel (from Pending or Active only) starts on it
    # THEN TransitionNotAllowed naming the status, no lock, no action
    with pytest.raises(TransitionNotAllowed) as refused:
        stores_impl.actions.start_action(order, new_action(order), CANCELLABLE, entry("cancel started"))
    assert refused.value.detail["current"] == "Fraud"
    after = stores_impl.orders.get_order(order.id)
    assert after.pending_action is None and after.actions == []


def test_start_action_on_a_locked_order_is_refused_as_action_in_progress(stores_impl: Stores) -> None:
    # GIVEN an order read, then locked by another action
    order = place(stores_impl)
    first = lock(stores_impl, order.id)
    # WHEN a second action starts on the read
    second = new_action(order, "fraud")
    # THEN ActionInProgress naming the first; the second is not recorded
    with pytest.raises(ActionInProgress) as refused:
        stores_impl.actions.start_action(order, second, CANCELLABLE, entry("fraud started"))
    assert refused.value.detail["action_id"] == first.id
    with pytest.raises(NotFound):
        stores_impl.actions.get_action(order.id, second.id)


def test_start_action_after_a_payment_since_the_read_is_refused_as_a_lost_race(stores_impl: Stores) -> None:
    # GIVEN an order read whole, then a payment recorded on its invoice
    order = place(stores_impl)
    again = stores_impl.orders.get_order(order.id)
    assert again.invoice is not None
    invoice = again.invoice
    invoice.transactions.append(Transaction(id="t1", type="payment", gateway="manual", transaction_id="m-1",
                                            amount=invoice.balance / 2, at=LATER))
    invoice.balance -= invoice.balance / 2
    stores_impl.writes.apply(again, OrderChange(invoice=invoice, history=[entry("payment recorded")]))
    # WHEN a cancel & refund planned on the read starts
    # THEN ConcurrentUpdate (its refunds were planned without that payment): no lock taken
    with pytest.raises(ConcurrentUpdate):
        stores_impl.actions.start_action(order, new_action(order, "cancel_refund"), CANCELLABLE, entry("started"))
    assert stores_impl.orders.get_order_header(order.id).pending_action is None


def test_start_action_on_an_order_that_is_gone_is_refused_as_not_found(stores_impl: Stores) -> None:
    # GIVEN a cancelled order read, then deleted
    order = place(stores_impl, status=OrderStatus.CANCELLED)
    stores_impl.orders.delete_order_children(order.id)
    stores_impl.orders.delete_order_record(stores_impl.orders.get_order_header(order.id))
    # WHEN an action starts on the read
    # THEN OrderNotFound
    with pytest.raises(OrderNotFound):
        stores_impl.actions.start_action(order, new_action(order, "delete"), frozenset({OrderStatus.CANCELLED}),
                                         entry("delete started"))


def test_an_unknown_action_is_not_found(stores_impl: Stores) -> None:
    # GIVEN an order without actions
    order = place(stores_impl)
    # WHEN an action id it never had is read, or has a step set
    # THEN NotFound
    with pytest.raises(NotFound):
        stores_impl.actions.get_action(order.id, "no-such-action")
    with pytest.raises(NotFound):
        stores_impl.actions.set_action_step(order.id, "no-such-action", ActionStep(name="x", status="RUNNING"))


def test_set_action_step_replaces_a_step_by_name_and_adds_a_new_one(stores_impl: Stores) -> None:
    # GIVEN a running action with two planned steps
    order = place(stores_impl)
    action = lock(stores_impl, order.id)
    # WHEN its first step runs, fails with an error, and a step it did not plan is added
    stores_impl.actions.set_action_step(order.id, action.id, ActionStep(name="cancel_invoice", status="RUNNING"))
    stores_impl.actions.set_action_step(order.id, action.id, ActionStep(name="cancel_invoice", status="FAILED",
                                                                        error="gateway down"))
    stores_impl.actions.set_action_step(order.id, action.id, ActionStep(name="extra", status="SUCCEEDED"))
    # THEN each step is there once, as last set, in the order they were first set
    steps = stores_impl.actions.get_action(order.id, action.id).steps
    assert steps == [ActionStep(name="cancel_invoice", status="FAILED", error="gateway down"),
                     ActionStep(name="finish:cancel", status="PENDING"), ActionStep(name="extra", status="SUCCEEDED")]


def test_set_lock_execution_names_the_execution_on_the_lock_and_the_action(stores_impl: Stores) -> None:
    # GIVEN a running action holding its order
    order = place(stores_impl)
    action = lock(stores_impl, order.id)
    # WHEN its execution is named
    stores_impl.actions.set_lock_execution(order.id, action.id, "arn:aws:states:execution:x")
    # THEN the lock and the action both carry it
    lock_now = stores_impl.orders.get_order_header(order.id).pending_action
    assert lock_now is not None and lock_now.execution_arn == "arn:aws:states:execution:x"
    assert stores_impl.actions.get_action(order.id, action.id).execution_arn == "arn:aws:states:execution:x"


def test_end_action_applies_the_change_releases_the_lock_and_stores_the_outcome_once(stores_impl: Stores) -> None:
    # GIVEN a cancel holding a pending order, read with its lock
    order = place(stores_impl)
    action = lock(stores_impl, order.id)
    held = stores_impl.orders.get_order(order.id)
    # WHEN it ends: the order and items Cancelled, the lock released, the action SUCCEEDED
    action.status, action.finished_at = ActionStatus.SUCCEEDED, LATER
    change = OrderChange(to_status=OrderStatus.CANCELLED, item_status=ItemStatus.CANCELLED, clear_lock=True,
                         invoice_status=InvoiceStatus.CANCELLED, history=[entry("cancel done")])
    stores_impl.actions.end_action(held, change, action)
    # THEN all of it is written at once
    after = stores_impl.orders.get_order(order.id)
    assert after.status is OrderStatus.CANCELLED and after.pending_action is None
    assert all(i.status is ItemStatus.CANCELLED for i in after.items)
    assert after.invoice is not None and after.invoice.status is InvoiceStatus.CANCELLED
    assert after.actions == [action] and after.history[-1].action == "cancel done"
    # WHEN the same end runs again (a retried step) on the read that held the lock
    # THEN ConcurrentUpdate (the caller reads again and finds it done), nothing written twice
    with pytest.raises(ConcurrentUpdate):
        stores_impl.actions.end_action(held, change, action)
    assert [h.action for h in stores_impl.orders.get_order(order.id).history].count("cancel done") == 1


def test_end_action_after_the_order_changed_is_a_lost_race(stores_impl: Stores) -> None:
    # GIVEN a cancel holding an order, read with its lock, then the order changed by the lock's holder
    order = place(stores_impl)
    action = lock(stores_impl, order.id)
    held = stores_impl.orders.get_order(order.id)
    stores_impl.writes.apply(held, OrderChange(flagged_for_review=True, history=[entry("flagged")]), holder=action.id)
    # WHEN the action ends on the older read
    action.status = ActionStatus.FAILED
    # THEN ConcurrentUpdate (not ActionInProgress: the lock is its own); the lock is kept, the action still runs
    with pytest.raises(ConcurrentUpdate) as refused:
        stores_impl.actions.end_action(held, OrderChange(clear_lock=True, history=[entry("failed")]), action)
    assert not isinstance(refused.value, ActionInProgress)
    assert stores_impl.orders.get_order_header(order.id).pending_action is not None
    assert stores_impl.actions.get_action(order.id, action.id).status is ActionStatus.RUNNING


def test_end_action_after_another_action_took_the_order_names_that_action(stores_impl: Stores) -> None:
    # GIVEN a cancel holding an order, read with its lock; then its lock swept and a fraud action started
    order = place(stores_impl)
    first = lock(stores_impl, order.id)
    held = stores_impl.orders.get_order(order.id)
    stores_impl.writes.apply(stores_impl.orders.get_order(order.id), OrderChange(clear_lock=True), holder=first.id)
    second = lock(stores_impl, order.id, "fraud")
    # WHEN the cancel ends on its read
    first.status = ActionStatus.SUCCEEDED
    # THEN ActionInProgress naming the fraud action; the order is the fraud action's still
    with pytest.raises(ActionInProgress) as refused:
        stores_impl.actions.end_action(held, OrderChange(to_status=OrderStatus.CANCELLED, clear_lock=True), first)
    assert refused.value.detail["action_id"] == second.id
    after = stores_impl.orders.get_order_header(order.id)
    assert after.status is OrderStatus.PENDING and after.pending_action is not None
    assert after.pending_action.action_id == second.id


def test_end_action_of_an_action_already_closed_is_refused_and_leaves_the_order(stores_impl: Stores) -> None:
    # GIVEN a cancel holding an order, read with its lock, then its action closed as FAILED elsewhere
    order = place(stores_impl)
    action = lock(stores_impl, order.id)
    held = stores_impl.orders.get_order(order.id)
    action.status = ActionStatus.FAILED
    assert stores_impl.actions.close_action(action)
    # WHEN the action would still end as SUCCEEDED on that read
    action.status = ActionStatus.SUCCEEDED
    # THEN ConcurrentUpdate; the order is not cancelled, the action stays FAILED
    with pytest.raises(ConcurrentUpdate):
        stores_impl.actions.end_action(held, OrderChange(to_status=OrderStatus.CANCELLED, clear_lock=True), action)
    assert stores_impl.orders.get_order_header(order.id).status is OrderStatus.PENDING
    assert stores_impl.actions.get_action(order.id, action.id).status is ActionStatus.FAILED


def test_end_action_of_an_order_that_is_gone_is_refused_as_not_found(stores_impl: Stores) -> None:
    # GIVEN a delete holding a cancelled order, read, then the order removed
    order = move(stores_impl, place(stores_impl).id, OrderStatus.CANCELLED)
    action = lock(stores_impl, order.id, "delete")
    held = stores_impl.orders.get_order(order.id)
    stores_impl.orders.delete_order_children(order.id)
    stores_impl.orders.delete_order_record(held)
    # WHEN the action ends on the read
    # THEN OrderNotFound
    action.status = ActionStatus.SUCCEEDED
    with pytest.raises(OrderNotFound):
        stores_impl.actions.end_action(held, OrderChange(clear_lock=True), action)


def test_close_action_stores_the_outcome_of_a_running_action_once(stores_impl: Stores) -> None:
    # GIVEN a running action whose lock was released by the sweep
    order = place(stores_impl)
    action = lock(stores_impl, order.id)
    stores_impl.writes.apply(stores_impl.orders.get_order(order.id), OrderChange(clear_lock=True), holder=action.id)
    # WHEN its failure is stored, then stored again
    action.status, action.error = ActionStatus.FAILED, "swept"
    first = stores_impl.actions.close_action(action, entry("cancel failed"))
    action.error = "second reason"
    second = stores_impl.actions.close_action(action, entry("cancel failed again"))
    # THEN the first closes it with its history; the second changes nothing
    assert (first, second) == (True, False)
    stored = stores_impl.actions.get_action(order.id, action.id)
    assert (stored.status, stored.error) == (ActionStatus.FAILED, "swept")
    actions = [h.action for h in stores_impl.orders.get_order(order.id).history]
    assert "cancel failed" in actions and "cancel failed again" not in actions


def test_close_action_of_an_unknown_action_is_false(stores_impl: Stores) -> None:
    # GIVEN an order that never had this action
    order = place(stores_impl)
    action = new_action(order)
    # WHEN its outcome is stored
    # THEN nothing is stored
    assert stores_impl.actions.close_action(action, entry("x")) is False
    with pytest.raises(NotFound):
        stores_impl.actions.get_action(order.id, action.id)
