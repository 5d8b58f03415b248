"""OrderWriteStore's bulk path: a job's decision on an order recorded on it with the move, the
first decision standing for that job, the moves' history written once under their decisions."""

from __future__ import annotations

from orderdesk.domain.model import BulkDecision, BulkOrderState
from orderdesk.domain.statuses import OrderStatus
from orderdesk.services.ports import Stores
from tests.contract.builders import LATER, lock, place

CANCELLABLE = frozenset({OrderStatus.PENDING, OrderStatus.ACTIVE})


def decision(to: OrderStatus | None = OrderStatus.CANCELLED, error: str | None = None) -> BulkDecision:
    return BulkDecision(at=LATER, actor="bulk-tester", to=to.value if to else None, error=error)


def test_bulk_move_moves_from_an_allowed_status_and_records_the_decision(stores_impl: Stores) -> None:
    # GIVEN a pending order
    order = place(stores_impl)
    # WHEN a job cancels it
    moved = stores_impl.writes.bulk_move("job-1", order.id, decision(), CANCELLABLE)
    # THEN it is Cancelled, the decision says from where, and the order's version moved
    assert isinstance(moved, BulkDecision)
    assert (moved.from_, moved.to, moved.error, moved.at, moved.actor) == (
        "Pending", "Cancelled", None, LATER, "bulk-tester")
    assert moved.moved and moved.written_ns > 0
    after = stores_impl.orders.get_order_header(order.id)
    assert after.status is OrderStatus.CANCELLED and after.version == order.version + 1


def test_a_second_move_of_the_same_job_returns_the_recorded_decision_and_moves_nothing(stores_impl: Stores) -> None:
    # GIVEN an order a job moved to Cancelled, then set back to Pending by an operator
    order = place(stores_impl)
    first = stores_impl.writes.bulk_move("job-1", order.id, decision(), CANCELLABLE)
    stores_impl.writes.bulk_move("job-2", order.id, decision(OrderStatus.PENDING), frozenset({OrderStatus.CANCELLED}))
    # WHEN the first job's message is delivered again
    again = stores_impl.writes.bulk_move("job-1", order.id, decision(), CANCELLABLE)
    # THEN the order is not moved a second time: the job's decision as first recorded comes back
    assert isinstance(again, BulkOrderState)
    assert again.decision == first and again.status is OrderStatus.PENDING and not again.locked
    assert stores_impl.orders.get_order_header(order.id).status is OrderStatus.PENDING


def test_bulk_move_from_a_status_not_allowed_gives_the_order_as_found(stores_impl: Stores) -> None:
    # GIVEN a fraud order
    order = place(stores_impl, status=OrderStatus.FRAUD)
    # WHEN a job would cancel it
    found = stores_impl.writes.bulk_move("job-1", order.id, decision(), CANCELLABLE)
    # THEN it is not moved; what was found says why (its status; no decision yet)
    assert found == BulkOrderState(status=OrderStatus.FRAUD, locked=False, decision=None)
    after = stores_impl.orders.get_order_header(order.id)
    assert after.status is OrderStatus.FRAUD and after.version == order.version


def test_bulk_move_of_a_locked_order_gives_the_lock(stores_impl: Stores) -> None:
    # GIVEN a pending order an action holds
    order = place(stores_impl)
    lock(stores_impl, order.id)
    # WHEN a job would cancel it
    found = stores_impl.writes.bulk_move("job-1", order.id, decision(), CANCELLABLE)
    # THEN it is not moved: it is locked
    assert found == BulkOrderState(status=OrderStatus.PENDING, locked=True, decision=None)
    assert stores_impl.orders.get_order_header(order.id).status is OrderStatus.PENDING


def test_bulk_move_and_refuse_of_an_unknown_order_give_none(stores_impl: Stores) -> None:
    # WHEN a job moves or refuses an order nobody stored
    # THEN None both ways
    assert stores_impl.writes.bulk_move("job-1", "no-such-order", decision(), CANCELLABLE) is None
    assert stores_impl.writes.bulk_refuse("job-1", "no-such-order", decision(None, "invalid transition")) is None


def test_a_refusal_stands_for_the_job(stores_impl: Stores) -> None:
    # GIVEN a fraud order that a job refused
    order = place(stores_impl, status=OrderStatus.FRAUD)
    refused = stores_impl.writes.bulk_refuse("job-1", order.id, decision(None, "invalid transition"))
    assert refused is not None and refused.error == "invalid transition" and not refused.moved
    # WHEN it becomes movable and the job's message comes again
    stores_impl.writes.bulk_move("job-2", order.id, decision(OrderStatus.PENDING), frozenset({OrderStatus.FRAUD}))
    again = stores_impl.writes.bulk_move("job-1", order.id, decision(), CANCELLABLE)
    refused_again = stores_impl.writes.bulk_refuse("job-1", order.id, decision(None, "something else"))
    # THEN the job's refusal stands: not moved, the first reason given back
    assert isinstance(again, BulkOrderState) and again.status is OrderStatus.PENDING
    assert again.decision is not None and (again.decision.error, again.decision.at) == ("invalid transition", LATER)
    assert refused_again is not None and refused_again.error == "invalid transition"
    assert stores_impl.orders.get_order_header(order.id).status is OrderStatus.PENDING


def test_a_refusal_after_a_move_of_the_same_job_gives_the_move(stores_impl: Stores) -> None:
    # GIVEN an order a job moved
    order = place(stores_impl)
    moved = stores_impl.writes.bulk_move("job-1", order.id, decision(), CANCELLABLE)
    # WHEN a concurrent delivery of the same job would refuse it
    recorded = stores_impl.writes.bulk_refuse("job-1", order.id, decision(None, "invalid transition"))
    # THEN the move stands
    assert recorded == moved


def test_bulk_history_is_written_once_per_move_however_often_it_is_written(stores_impl: Stores) -> None:
    # GIVEN two orders a job moved
    orders = [place(stores_impl), place(stores_impl)]
    moves = [("job-1", o.id, stores_impl.writes.bulk_move("job-1", o.id, decision(), CANCELLABLE)) for o in orders]
    typed = [(j, o, d) for j, o, d in moves if isinstance(d, BulkDecision)]
    # WHEN their history is written, then written again by a redelivery
    stores_impl.writes.bulk_history(typed)
    stores_impl.writes.bulk_history(typed)
    # THEN each order has one entry of the move, naming the job, from and to
    for order in orders:
        bulk = [h for h in stores_impl.orders.get_order(order.id).history if h.action == "bulk status change"]
        assert [(h.from_, h.to, h.detail, h.actor, h.at) for h in bulk] == [
            ("Pending", "Cancelled", "bulk job job-1", "bulk-tester", LATER)]
