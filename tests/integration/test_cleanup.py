"""Scheduled cleanups under a frozen clock (time-machine): unpaid orders cancelled through the
Cancel workflow (moto's Step Functions running the real ASL and steps), stale locks released with
DescribeExecution deciding, old Cancelled/Fraud orders deleted."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import time_machine

from functions.cleanup import app as cleanup_app
from infra.local.event_sources import _context
from orderdesk.config import reset_settings
from orderdesk.domain.errors import ValidationFailed
from orderdesk.domain.model import HistoryEntry, iso, utcnow
from orderdesk.domain.statuses import ActionStatus, OrderStatus
from orderdesk.services import cleanup
from orderdesk.services.ports import stores
from tests.integration.events_support import lock, place, wait_for_action

pytestmark = pytest.mark.timeout(120)


def _ctx():  # type: ignore[no-untyped-def]
    return _context("cleanup", "us-east-1", 300)


def test_unpaid_pending_orders_are_cancelled_through_the_workflow(api, table, workflows, monkeypatch):  # noqa: ARG001
    # GIVEN cancellation of unpaid orders after 7 days, and Pending orders placed 8 and 6 days ago
    # unpaid, one paid 10 days ago, one unpaid 10 days ago but busy with an action, an Active one
    monkeypatch.setenv("ORDER_UNPAID_CANCEL_DAYS", "7")
    reset_settings()
    repo = stores()
    due = place(OrderStatus.PENDING, days_ago=8)
    young = place(OrderStatus.PENDING, days_ago=6)
    paid = place(OrderStatus.PENDING, days_ago=10, paid=True)
    busy = place(OrderStatus.PENDING, days_ago=10)
    lock(repo, busy, "accept")
    active = place(OrderStatus.ACTIVE, days_ago=30)
    now = utcnow()
    # WHEN the rule runs, the clock frozen now
    with time_machine.travel(now, tick=False):
        report = cleanup.run("cancel_unpaid")
    # THEN only the due one is cancelled, by the Cancel workflow, as "cleanup"
    assert report.changed == [due.id]
    assert set(report.skipped) == {paid.id, busy.id}
    action = repo.orders.get_order(due.id).actions[-1]
    assert (action.type, action.actor) == ("cancel", "cleanup")
    assert wait_for_action(due.id, action.id).status is ActionStatus.SUCCEEDED
    order = repo.orders.get_order(due.id)
    assert order.status is OrderStatus.CANCELLED and order.invoice.status.value == "Cancelled"
    assert [repo.orders.get_order_header(o.id).status for o in (young, paid, busy, active)] == [
        OrderStatus.PENDING, OrderStatus.PENDING, OrderStatus.PENDING, OrderStatus.ACTIVE]
    # AND two days later the younger one is due as well
    with time_machine.travel(now + timedelta(days=2), tick=False):
        later = cleanup.run("cancel_unpaid")
    assert later.changed == [young.id]
    assert wait_for_action(young.id, repo.orders.get_order(young.id).actions[-1].id).status is ActionStatus.SUCCEEDED


def test_cancel_unpaid_is_off_at_zero(table, monkeypatch):  # noqa: ARG001
    monkeypatch.setenv("ORDER_UNPAID_CANCEL_DAYS", "0")
    reset_settings()
    old = place(OrderStatus.PENDING, days_ago=400)
    report = cleanup.run("cancel_unpaid")
    assert not report.enabled and report.examined == 0
    assert stores().orders.get_order_header(old.id).status is OrderStatus.PENDING


WAIT_ASL = {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 120, "End": True}}}
PASS_ASL = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


def _execution(sfn, definition: dict, name: str) -> str:  # type: ignore[no-untyped-def]
    machine = sfn.create_state_machine(name=f"cleanup-test-{name}-{time.monotonic_ns()}",
                                       definition=json.dumps(definition),
                                       roleArn="arn:aws:iam::123456789012:role/test")["stateMachineArn"]
    return str(sfn.start_execution(stateMachineArn=machine, name=name)["executionArn"])


def test_stale_locks_are_released_and_their_actions_failed(table, workflows, monkeypatch):  # noqa: ARG001
    # GIVEN locks whose workflow ended, still runs, vanished, or was never recorded, old and young
    monkeypatch.setenv("STALE_LOCK_MINUTES", "15")
    reset_settings()
    sfn, repo = workflows.sfn, stores()
    ended = _execution(sfn, PASS_ASL, "ended")
    running = _execution(sfn, WAIT_ASL, "running")
    deadline = time.monotonic() + 10
    while sfn.describe_execution(executionArn=ended)["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
    now = utcnow()
    old, young = iso(now - timedelta(minutes=20)), iso(now - timedelta(minutes=1))
    vanished_arn = ended.rsplit(":", 1)[0] + ":no-such-execution"
    cases = {
        "ended": (ended, young), "running": (running, old), "vanished_old": (vanished_arn, old),
        "vanished_young": (vanished_arn, young), "unrecorded_old": (None, old), "unrecorded_young": (None, young),
    }
    orders, actions = {}, {}
    for name, (arn, started) in cases.items():
        orders[name] = place(OrderStatus.PENDING, days_ago=1)
        actions[name] = lock(repo, orders[name], "cancel", execution_arn=arn, started_at=started)
    # WHEN the sweep runs, the clock frozen now
    try:
        with time_machine.travel(now, tick=False):
            report = cleanup.run("release_locks")
    finally:
        sfn.stop_execution(executionArn=running)
    # THEN the locks of ended, vanished (past the grace) and unrecorded (past the grace) workflows
    # are released and their actions FAILED with the reason; the others are kept
    released = {n for n in cases if orders[n].id in report.changed}
    assert released == {"ended", "vanished_old", "unrecorded_old"}
    for name in cases:
        header = repo.orders.get_order_header(orders[name].id)
        action = repo.actions.get_action(orders[name].id, actions[name].id)
        if name in released:
            assert header.pending_action is None, name
            assert action.status is ActionStatus.FAILED, name
        else:
            assert header.pending_action is not None and header.pending_action.action_id == actions[name].id, name
            assert action.status is ActionStatus.RUNNING, name
    assert "ended SUCCEEDED" in repo.actions.get_action(orders["ended"].id, actions["ended"].id).error
    assert "does not exist" in repo.actions.get_action(orders["vanished_old"].id, actions["vanished_old"].id).error
    assert "no workflow execution" in repo.actions.get_action(orders["unrecorded_old"].id, actions["unrecorded_old"].id).error
    # AND the order is free again for the next action
    assert repo.orders.get_order(orders["ended"].id).available_actions


def test_old_cancelled_and_fraud_orders_are_deleted_after_retention(table, monkeypatch, order_stream):  # noqa: ARG001
    # GIVEN a retention of 30 days; Cancelled and Fraud orders placed 40 days ago, one of them
    # changed 10 days ago; a Cancelled one placed 10 days ago; an old Pending one; an old locked one
    monkeypatch.setenv("RETENTION_DAYS", "30")
    reset_settings()
    repo = stores()
    gone = place(OrderStatus.CANCELLED, days_ago=40)
    touched = place(OrderStatus.FRAUD, days_ago=40)
    repo.writes.add_history(touched.id, HistoryEntry(at=iso(utcnow() - timedelta(days=10)), actor="support", action="note",
                                              from_=None, to=None))
    recent = place(OrderStatus.CANCELLED, days_ago=10)
    pending = place(OrderStatus.PENDING, days_ago=40)
    busy = place(OrderStatus.FRAUD, days_ago=40)
    lock(repo, busy, "pending")
    now = utcnow()
    # WHEN the rule runs, the clock frozen now
    with time_machine.travel(now, tick=False):
        report = cleanup.run("purge_old")
    # THEN only the one untouched for 30 days is gone, with all its records
    assert report.changed == [gone.id]
    assert set(report.skipped) == {touched.id, busy.id}
    with pytest.raises(Exception, match="not found"):
        repo.orders.get_order(gone.id)
    for order in (touched, recent, pending, busy):
        assert repo.orders.get_order_header(order.id).id == order.id
    order_stream.settle()
    counts = repo.counters.status_counts()
    assert (counts[OrderStatus.CANCELLED], counts[OrderStatus.FRAUD]) == (1, 2)
    # AND 25 days later the ones changed 10 days ago have aged out too
    with time_machine.travel(now + timedelta(days=25), tick=False):
        assert set(cleanup.run("purge_old").changed) == {touched.id, recent.id}
    # AND with retention off nothing is deleted
    ancient = place(OrderStatus.CANCELLED, days_ago=400)
    monkeypatch.setenv("RETENTION_DAYS", "0")
    reset_settings()
    off = cleanup.run("purge_old")
    assert not off.enabled and repo.orders.get_order_header(ancient.id).id == ancient.id


def test_handler_runs_the_scheduled_rule_or_every_rule(table, monkeypatch):  # noqa: ARG001
    # GIVEN every rule off (the defaults) but the lock sweep
    monkeypatch.setenv("ORDER_UNPAID_CANCEL_DAYS", "0")
    monkeypatch.setenv("RETENTION_DAYS", "0")
    reset_settings()
    # WHEN the schedule's input names a rule, or the event is Scheduler's default
    one = cleanup_app.handler({"rule": "release_locks"}, _ctx())
    every = cleanup_app.handler({"version": "0", "detail-type": "Scheduled Event", "source": "aws.scheduler",
                                 "detail": {}}, _ctx())
    # THEN that rule, or all of them, ran
    assert [r["rule"] for r in one["results"]] == ["release_locks"]
    assert [(r["rule"], r["enabled"]) for r in every["results"]] == [
        ("cancel_unpaid", False), ("release_locks", True), ("purge_old", False), ("finish_stale_jobs", True),
        ("sync_domains", True)]
    with pytest.raises(ValidationFailed):
        cleanup_app.handler({"rule": "everything"}, _ctx())


def test_an_unexpected_error_fails_the_run_after_the_others(table, monkeypatch):  # noqa: ARG001
    # GIVEN two old Cancelled orders, and a delete that breaks on the first
    monkeypatch.setenv("RETENTION_DAYS", "30")
    reset_settings()
    first, second = place(OrderStatus.CANCELLED, days_ago=40), place(OrderStatus.CANCELLED, days_ago=41)
    from orderdesk.services import actions

    real = actions.delete_order

    def delete(order_id: str, actor: str) -> None:
        if order_id == first.id:
            raise RuntimeError("store unavailable")
        real(order_id, actor)

    monkeypatch.setattr(actions, "delete_order", delete)
    # WHEN the scheduled run goes
    with pytest.raises(cleanup.CleanupIncomplete, match="store unavailable"):
        cleanup_app.handler({"rule": "purge_old"}, _ctx())
    # THEN the other order was still deleted, and the failed one is left for the retry
    assert stores().orders.get_order_header(first.id).id == first.id
    with pytest.raises(Exception, match="not found"):
        stores().orders.get_order_header(second.id)
