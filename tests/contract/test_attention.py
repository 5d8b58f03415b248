"""The attention list an order carries (where what it says and what is real disagree), kept by the
one write path: recomputed by a change of the status, items or invoice, or an action's end, from
the order as the change leaves it; listed from its own filter; a bulk status change of an order
whose list would move with its status taken through the one write path, its decision with it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderdesk.domain.attention import LIVE_SERVICE, REFUND_OWED
from orderdesk.domain.changes import BulkMark, OrderChange
from orderdesk.domain.errors import ConcurrentUpdate
from orderdesk.domain.model import BulkDecision, BulkOrderState, DomainRegistration, Transaction
from orderdesk.domain.queries import OrderFilter
from orderdesk.domain.statuses import ActionStatus, InvoiceStatus, ItemStatus, OrderStatus
from orderdesk.services.ports import Stores
from tests.contract.builders import LATER, entry, lock, move, place, status_change

CANCELLABLE = frozenset({OrderStatus.PENDING, OrderStatus.ACTIVE})


def codes(stores: Stores, order_id: str) -> list[tuple[str, str | None]]:
    return [(a.code, a.item_id) for a in stores.orders.get_order_header(order_id).attention]


def test_a_change_of_status_items_or_invoice_needs_the_order_read_whole(stores_impl: Stores) -> None:
    # GIVEN a pending order read as its header alone (no items, no invoice)
    order = place(stores_impl)
    header = stores_impl.orders.get_order_header(order.id)
    # WHEN a status change, an items change or an invoice change is applied on it
    # THEN ValueError, each time, before anything is written
    for change in (status_change(OrderStatus.CANCELLED), OrderChange(item_status=ItemStatus.CANCELLED),
                   OrderChange(invoice_status=InvoiceStatus.CANCELLED)):
        with pytest.raises(ValueError, match="read whole"):
            stores_impl.writes.apply(header, change)
    after = stores_impl.orders.get_order(order.id)
    assert (after.status, after.version, len(after.history)) == (OrderStatus.PENDING, order.version, 1)
    # AND a change that reads none of those (a flag) is fine on the header
    stores_impl.writes.apply(header, OrderChange(flagged_for_review=True))
    assert stores_impl.orders.get_order_header(order.id).flagged_for_review


def test_a_live_account_on_a_cancelled_order_needs_attention_until_it_is_gone(stores_impl: Stores) -> None:
    # GIVEN an active order whose first item has a live account, and another active order
    order = move(stores_impl, place(stores_impl, live_account=True).id, OrderStatus.ACTIVE)
    other = move(stores_impl, place(stores_impl).id, OrderStatus.ACTIVE)
    assert codes(stores_impl, order.id) == []
    live = order.items[0]
    # WHEN both are cancelled with their items
    cancelled = move(stores_impl, order.id, OrderStatus.CANCELLED, ItemStatus.CANCELLED)
    move(stores_impl, other.id, OrderStatus.CANCELLED, ItemStatus.CANCELLED)
    # THEN the one with the live account needs attention for that item; the list filter finds it alone
    assert codes(stores_impl, order.id) == [(LIVE_SERVICE, live.id)]
    assert [o.id for o in stores_impl.orders.list_orders(OrderFilter(attention=True), 10, None).orders] == [order.id]
    assert [o.id for o in stores_impl.orders.list_orders(OrderFilter(attention=True, status=OrderStatus.CANCELLED),
                                                         10, None).orders] == [order.id]
    assert stores_impl.orders.list_orders(OrderFilter(attention=True, status=OrderStatus.FRAUD), 10, None).orders == []
    # WHEN its account is terminated, the item moved to Terminated with it
    stores_impl.writes.change_item(order.id, live.id, expect_status=ItemStatus.CANCELLED,
                                   fields={"account_exists": False})
    stores_impl.writes.apply(stores_impl.orders.get_order(order.id),
                             OrderChange(item_statuses={live.id: ItemStatus.TERMINATED}))
    # THEN nothing needs attention any more
    assert codes(stores_impl, order.id) == []
    assert stores_impl.orders.list_orders(OrderFilter(attention=True), 10, None).orders == []
    assert cancelled.items[1].status is ItemStatus.CANCELLED


def test_attention_is_recomputed_at_an_action_s_end_not_while_it_holds_the_order(stores_impl: Stores) -> None:
    # GIVEN an active order with a live account, held by a cancel
    order = move(stores_impl, place(stores_impl, live_account=True).id, OrderStatus.ACTIVE)
    action = lock(stores_impl, order.id)
    # WHEN the action cancels the order and its items while it holds it, the account still live
    held = stores_impl.orders.get_order(order.id)
    stores_impl.writes.apply(held, OrderChange(to_status=OrderStatus.CANCELLED, item_status=ItemStatus.CANCELLED),
                             holder=action.id)
    # THEN the list is left as it was (the order is in flux)
    assert codes(stores_impl, order.id) == []
    # WHEN the action ends, releasing the order
    held = stores_impl.orders.get_order(order.id)
    action.status = ActionStatus.FAILED
    stores_impl.actions.end_action(held, OrderChange(clear_lock=True), action)
    # THEN the list says what is wrong
    assert codes(stores_impl, order.id) == [(LIVE_SERVICE, order.items[0].id)]


def test_item_statuses_move_only_the_items_named(stores_impl: Stores) -> None:
    # GIVEN an order of three pending items
    order = place(stores_impl, amounts=("1.00", "2.00", "3.00"))
    first, second, third = order.items
    # WHEN the first goes Active and the third Cancelled, the second not named
    stores_impl.writes.apply(order, OrderChange(item_statuses={first.id: ItemStatus.ACTIVE,
                                                               third.id: ItemStatus.CANCELLED}))
    # THEN just those moved
    assert [i.status for i in stores_impl.orders.get_order(order.id).items] == [
        ItemStatus.ACTIVE, ItemStatus.PENDING, ItemStatus.CANCELLED]
    assert second.status is ItemStatus.PENDING


def test_an_owed_refund_needs_attention_until_it_is_paid_back(stores_impl: Stores) -> None:
    # GIVEN a paid order
    order = place(stores_impl, invoice_status=InvoiceStatus.PAID)
    assert order.invoice is not None
    # WHEN a refund is recorded as owed (to be paid back by hand)
    invoice = order.invoice
    invoice.transactions.append(Transaction(id="r1", type="refund", gateway="manual", transaction_id="r-1",
                                            amount=Decimal("30.00"), at=LATER, state="owed"))
    stores_impl.writes.apply(order, OrderChange(invoice=invoice))
    # THEN the order needs attention, and the refund reads back owed
    assert codes(stores_impl, order.id) == [(REFUND_OWED, None)]
    read = stores_impl.orders.get_order(order.id)
    assert read.invoice is not None and read.invoice.owed_refunds()[0].transaction_id == "r-1"
    # WHEN an operator confirms it paid back
    confirmed = read.invoice
    confirmed.transactions[-1].state, confirmed.transactions[-1].reference = "done", "bank-42"
    stores_impl.writes.apply(read, OrderChange(invoice=confirmed))
    # THEN nothing needs attention, the reference is kept
    assert codes(stores_impl, order.id) == []
    assert stores_impl.invoices.get_invoice(order.invoice_id).transactions[-1].reference == "bank-42"


def test_a_bulk_change_of_an_order_whose_attention_moves_with_its_status_goes_through_the_write_path(
        stores_impl: Stores) -> None:
    # GIVEN an active order with a live account (cancelled, it would need attention)
    order = move(stores_impl, place(stores_impl, live_account=True).id, OrderStatus.ACTIVE)
    decision = BulkDecision(at=LATER, actor="bulk-tester", to=OrderStatus.CANCELLED.value)
    # WHEN a bulk job would cancel it with the bare status write
    found = stores_impl.writes.bulk_move("job-1", order.id, decision, CANCELLABLE)
    # THEN it is not moved: the order says its list would move
    assert found == BulkOrderState(status=OrderStatus.ACTIVE, locked=False, decision=None, moves_attention=True)
    assert stores_impl.orders.get_order_header(order.id).status is OrderStatus.ACTIVE
    # WHEN the job moves it through the one write path, its decision with it
    read = stores_impl.orders.get_order(order.id)
    marked = BulkDecision(at=LATER, actor="bulk-tester", from_="Active", to="Cancelled", written_ns=12345)
    stores_impl.writes.apply(read, OrderChange(to_status=OrderStatus.CANCELLED, history=[entry("bulk")],
                                               bulk=BulkMark("job-1", marked)))
    # THEN it is Cancelled, needs attention, and the job's decision is on record for a redelivery
    assert codes(stores_impl, order.id) == [(LIVE_SERVICE, order.items[0].id)]
    again = stores_impl.writes.bulk_move("job-1", order.id, decision, frozenset({OrderStatus.CANCELLED}))
    assert isinstance(again, BulkOrderState) and again.decision == marked
    # WHEN the same job's move comes again through the write path, on a fresh read
    # THEN ConcurrentUpdate: the first decision stands
    with pytest.raises(ConcurrentUpdate):
        stores_impl.writes.apply(stores_impl.orders.get_order(order.id), OrderChange(
            to_status=OrderStatus.FRAUD, bulk=BulkMark("job-1", marked)))
    assert stores_impl.orders.get_order_header(order.id).status is OrderStatus.CANCELLED


def test_an_item_keeps_its_account_registration_and_commands(stores_impl: Stores) -> None:
    # GIVEN an order of a product with a live account and a domain never sent to a registrar
    order = place(stores_impl, live_account=True, domain="example.org")
    product, domain = order.items
    # THEN the account is the product's server and username, live; the domain has an empty registration
    assert (product.account.server_id, product.account.username, product.account.exists) == ("srv-1", "ada", True)
    assert product.registration is None and domain.registration == DomainRegistration()
    assert not domain.account.exists and product.commands == {}
    # WHEN its account is terminated (one create and one terminate done) and the domain sent to its registrar
    stores_impl.writes.change_item(order.id, product.id, expect_status=ItemStatus.PENDING, fields={
        "status": ItemStatus.TERMINATED.value, "account_exists": False, "commands": {"create": 1, "terminate": 1}})
    pending = DomainRegistration(state="pending", reference="R-1", since=LATER, detail="sent")
    stores_impl.writes.update_item(order.id, domain.id, registration=pending)
    # THEN each reads back so
    product, domain = stores_impl.orders.get_order(order.id).items
    assert (product.status, product.account.exists, product.commands) == (
        ItemStatus.TERMINATED, False, {"create": 1, "terminate": 1})
    assert domain.registration == pending
