"""OrderWriteStore: a change of an order applied whole or not at all, guarded on the order as
read, each refusal saying why; items changed by the workflow steps; history."""

from __future__ import annotations

import pytest

from orderdesk.domain.changes import OrderChange
from orderdesk.domain.errors import ActionInProgress, ConcurrentUpdate, OrderNotFound
from orderdesk.domain.model import AffiliateRef, FraudCheck, FraudSignal, PendingAction
from orderdesk.domain.statuses import InvoiceStatus, ItemStatus, OrderStatus, PaymentStatus
from orderdesk.services.ports import Stores
from tests.contract.builders import LATER, entry, lock, move, place, status_change


def test_a_status_change_moves_order_and_items_writes_history_and_bumps_the_version(stores_impl: Stores) -> None:
    # GIVEN a pending order of two pending items, read whole
    order = place(stores_impl)
    # WHEN it is cancelled with its items, two history entries with it
    change = OrderChange(to_status=OrderStatus.CANCELLED, item_status=ItemStatus.CANCELLED,
                         history=[entry("cancelled", to="Cancelled"), entry("items cancelled")])
    stores_impl.writes.apply(order, change)
    # THEN order and items are Cancelled, both entries written after the first, the version one up
    after = stores_impl.orders.get_order(order.id)
    assert after.status is OrderStatus.CANCELLED
    assert [i.status for i in after.items] == [ItemStatus.CANCELLED, ItemStatus.CANCELLED]
    assert [h.action for h in after.history] == ["order placed", "cancelled", "items cancelled"]
    assert after.version == order.version + 1


def test_a_change_from_a_status_the_order_has_left_is_refused_and_writes_nothing(stores_impl: Stores) -> None:
    # GIVEN an order read as Pending, then accepted by someone else
    order = place(stores_impl)
    move(stores_impl, order.id, OrderStatus.ACTIVE)
    # WHEN a change decided on the Pending read is applied
    # THEN ConcurrentUpdate, and none of it is written
    with pytest.raises(ConcurrentUpdate):
        stores_impl.writes.apply(order, status_change(OrderStatus.FRAUD, ItemStatus.FRAUD))
    after = stores_impl.orders.get_order(order.id)
    assert after.status is OrderStatus.ACTIVE and all(i.status is ItemStatus.PENDING for i in after.items)
    assert [h.action for h in after.history] == ["order placed", "moved to Active"]


def test_a_change_decided_on_a_status_the_order_is_not_in_is_refused(stores_impl: Stores) -> None:
    # GIVEN a pending order, and a read of it that claims Active (its version current)
    order = place(stores_impl)
    claimed = stores_impl.orders.get_order(order.id)
    claimed.status = OrderStatus.ACTIVE
    # WHEN a change decided on that claim is applied
    # THEN ConcurrentUpdate: the guard is on the status as read, not only on the version
    with pytest.raises(ConcurrentUpdate):
        stores_impl.writes.apply(claimed, status_change(OrderStatus.CANCELLED))
    assert stores_impl.orders.get_order_header(order.id).status is OrderStatus.PENDING


def test_a_change_on_an_older_version_is_refused_though_the_status_is_the_same(stores_impl: Stores) -> None:
    # GIVEN an order read, then changed without a status change (an affiliate assigned)
    order = place(stores_impl)
    stores_impl.writes.apply(stores_impl.orders.get_order(order.id),
                             OrderChange(affiliate=AffiliateRef(id="af1", name="Blog"), history=[entry("affiliate")]))
    # WHEN a change decided on the first read is applied
    # THEN ConcurrentUpdate: the version moved
    with pytest.raises(ConcurrentUpdate):
        stores_impl.writes.apply(order, OrderChange(flagged_for_review=True, history=[entry("flagged")]))
    assert not stores_impl.orders.get_order_header(order.id).flagged_for_review


def test_a_change_of_a_locked_order_without_its_holder_is_refused_as_action_in_progress(stores_impl: Stores) -> None:
    # GIVEN an order that an action holds, read with its lock
    order = place(stores_impl)
    action = lock(stores_impl, order.id)
    held = stores_impl.orders.get_order(order.id)
    # WHEN a change that belongs to no action is applied, on this read and on a read from before the lock
    # THEN ActionInProgress naming the action, both times, and nothing written
    for read in (held, order):
        with pytest.raises(ActionInProgress) as refused:
            stores_impl.writes.apply(read, status_change(OrderStatus.FRAUD))
        assert refused.value.detail["action_id"] == action.id
    assert stores_impl.orders.get_order(order.id).status is OrderStatus.PENDING


def test_the_holder_of_the_lock_may_change_the_order(stores_impl: Stores) -> None:
    # GIVEN an order that an action holds, read with its lock
    order = place(stores_impl)
    action = lock(stores_impl, order.id)
    held = stores_impl.orders.get_order(order.id)
    # WHEN the action changes it (an affiliate assigned while it runs)
    stores_impl.writes.apply(held, OrderChange(affiliate=AffiliateRef(id="af1", name="Blog"),
                                               history=[entry("affiliate assigned")]), holder=action.id)
    # THEN the change is written and the lock is still the action's
    after = stores_impl.orders.get_order_header(order.id)
    assert after.affiliate == AffiliateRef(id="af1", name="Blog")
    assert after.pending_action is not None and after.pending_action.action_id == action.id


def test_a_change_of_the_lock_s_holder_that_lost_a_race_is_a_concurrent_update(stores_impl: Stores) -> None:
    # GIVEN an order an action holds, read twice; a step of the action changes it on the first read
    order = place(stores_impl)
    action = lock(stores_impl, order.id)
    first, second = stores_impl.orders.get_order(order.id), stores_impl.orders.get_order(order.id)
    stores_impl.writes.apply(first, OrderChange(flagged_for_review=True), holder=action.id)
    # WHEN another step of the same action changes it on the second read
    # THEN ConcurrentUpdate (read again and retry), not ActionInProgress: the lock is its own
    with pytest.raises(ConcurrentUpdate) as refused:
        stores_impl.writes.apply(second, OrderChange(affiliate=AffiliateRef(id="af1", name="Blog")), holder=action.id)
    assert not isinstance(refused.value, ActionInProgress)
    assert stores_impl.orders.get_order_header(order.id).affiliate is None


def test_a_change_of_an_order_that_is_gone_is_refused_as_not_found(stores_impl: Stores) -> None:
    # GIVEN a cancelled order read, then deleted
    order = place(stores_impl, status=OrderStatus.CANCELLED)
    stores_impl.orders.delete_order_children(order.id)
    stores_impl.orders.delete_order_record(stores_impl.orders.get_order_header(order.id))
    # WHEN a change is applied to what was read
    # THEN OrderNotFound
    with pytest.raises(OrderNotFound):
        stores_impl.writes.apply(order, OrderChange(history=[entry("note")]))


def test_an_item_that_moved_since_the_read_refuses_the_whole_change(stores_impl: Stores) -> None:
    # GIVEN an order read with two pending items, then one item activated by a step
    order = place(stores_impl)
    stores_impl.writes.change_item(order.id, order.items[0].id, expect_status=ItemStatus.PENDING,
                                   fields={"status": ItemStatus.ACTIVE.value})
    # WHEN a change moving every item from the statuses read is applied
    # THEN ConcurrentUpdate, and neither the order nor the other item moved
    with pytest.raises(ConcurrentUpdate):
        stores_impl.writes.apply(order, status_change(OrderStatus.CANCELLED, ItemStatus.CANCELLED))
    after = stores_impl.orders.get_order(order.id)
    assert after.status is OrderStatus.PENDING
    assert [i.status for i in after.items] == [ItemStatus.ACTIVE, ItemStatus.PENDING]


def test_items_already_in_the_target_status_are_left_as_they_are(stores_impl: Stores) -> None:
    # GIVEN an order whose first item is Active and second Pending, read whole
    order = place(stores_impl)
    stores_impl.writes.change_item(order.id, order.items[0].id, expect_status=ItemStatus.PENDING,
                                   fields={"status": ItemStatus.ACTIVE.value})
    read = stores_impl.orders.get_order(order.id)
    # WHEN every item is to be Active
    stores_impl.writes.apply(read, status_change(OrderStatus.ACTIVE, ItemStatus.ACTIVE))
    # THEN both are
    assert [i.status for i in stores_impl.orders.get_order(order.id).items] == [ItemStatus.ACTIVE] * 2


def test_an_invoice_status_moves_the_invoice_the_order_payment_status_and_the_invoice_version(
        stores_impl: Stores) -> None:
    # GIVEN an unpaid order read whole, with its invoice's version
    order = place(stores_impl)
    assert order.invoice is not None
    version = order.invoice.version
    # WHEN a change sets the invoice Cancelled
    stores_impl.writes.apply(order, OrderChange(to_status=OrderStatus.CANCELLED, invoice_status=InvoiceStatus.CANCELLED,
                                                history=[entry("cancelled")]))
    # THEN the invoice is Cancelled, the order's and items' payment status follow, the invoice's version moved
    after = stores_impl.orders.get_order(order.id)
    assert after.invoice is not None and after.invoice.status is InvoiceStatus.CANCELLED
    assert after.payment_status is PaymentStatus.CANCELLED
    assert all(i.payment_status is PaymentStatus.CANCELLED for i in after.items)
    assert stores_impl.invoices.get_invoice(order.invoice_id).version > version


def test_an_invoice_status_is_moved_only_from_the_status_read(stores_impl: Stores) -> None:
    # GIVEN an unpaid order, and a read of it whose invoice claims Paid (the order's version current)
    order = place(stores_impl)
    claimed = stores_impl.orders.get_order(order.id)
    assert claimed.invoice is not None
    claimed.invoice.status = InvoiceStatus.PAID
    # WHEN a change taking the invoice from that status is applied
    # THEN ConcurrentUpdate, and the order is as it was
    with pytest.raises(ConcurrentUpdate):
        stores_impl.writes.apply(claimed, OrderChange(to_status=OrderStatus.CANCELLED,
                                                      invoice_status=InvoiceStatus.REFUNDED, history=[entry("x")]))
    after = stores_impl.orders.get_order(order.id)
    assert after.status is OrderStatus.PENDING and after.invoice is not None
    assert after.invoice.status is InvoiceStatus.UNPAID


def test_lock_affiliate_flag_and_fraud_check_are_set_and_cleared(stores_impl: Stores) -> None:
    # GIVEN a pending order
    order = place(stores_impl)
    check = FraudCheck(provider="builtin", score=70, decision="review", checked_at=LATER,
                       signals=[FraudSignal(name="ip_country", value="FR", weight=30, triggered=True)])
    pending = PendingAction(action_id="act-1", type="accept", started_at=LATER)
    # WHEN a change sets a lock, an affiliate, the review flag and a fraud check
    stores_impl.writes.apply(order, OrderChange(set_lock=pending, affiliate=AffiliateRef(id="af1", name="Blog"),
                                                flagged_for_review=True, fraud_check=check, history=[entry("set")]))
    # THEN all are on the order (the header too)
    header = stores_impl.orders.get_order_header(order.id)
    assert (header.pending_action, header.affiliate, header.flagged_for_review, header.fraud_check) == (
        pending, AffiliateRef(id="af1", name="Blog"), True, check)
    # WHEN the lock's holder clears the lock, the affiliate and the flag (the end of an action: read whole)
    stores_impl.writes.apply(stores_impl.orders.get_order(order.id), OrderChange(clear_lock=True, affiliate=None, flagged_for_review=False,
                                                 history=[entry("cleared")]), holder="act-1")
    # THEN they are gone; the fraud check stays
    after = stores_impl.orders.get_order(order.id)
    assert (after.pending_action, after.affiliate, after.flagged_for_review) == (None, None, False)
    assert after.fraud_check == check


def test_change_item_moves_one_item_from_the_status_expected(stores_impl: Stores) -> None:
    # GIVEN a pending order
    order = place(stores_impl)
    item = order.items[1]
    # WHEN a step activates its second item with a username and a password, recording why
    stores_impl.writes.change_item(order.id, item.id, expect_status=ItemStatus.PENDING,
                                   fields={"status": ItemStatus.ACTIVE.value, "username": "grace",
                                           "password_enc": "enc-2", "last_error": None},
                                   history=entry("item provisioned"))
    # THEN that item is Active with its fields, the other untouched, the history written
    after = stores_impl.orders.get_order(order.id)
    assert (after.items[1].status, after.items[1].username, after.items[1].has_password) == (
        ItemStatus.ACTIVE, "grace", True)
    assert stores_impl.orders.item_password(order.id, item.id) == "enc-2"
    assert after.items[0].status is ItemStatus.PENDING
    assert after.history[-1].action == "item provisioned"
    # WHEN the same move is made again from Pending
    # THEN ConcurrentUpdate: the item is no longer Pending
    with pytest.raises(ConcurrentUpdate):
        stores_impl.writes.change_item(order.id, item.id, expect_status=ItemStatus.PENDING,
                                       fields={"status": ItemStatus.CANCELLED.value}, history=entry("again"))
    assert stores_impl.orders.get_order(order.id).history[-1].action == "item provisioned"


def test_change_item_under_an_action_needs_its_lock(stores_impl: Stores) -> None:
    # GIVEN an order held by an action
    order = place(stores_impl)
    action = lock(stores_impl, order.id)
    first, second = order.items
    # WHEN that action's step moves an item
    stores_impl.writes.change_item(order.id, first.id, expect_status=ItemStatus.PENDING,
                                   fields={"status": ItemStatus.CANCELLED.value}, action_id=action.id)
    # THEN it moves
    assert stores_impl.orders.get_order(order.id).items[0].status is ItemStatus.CANCELLED
    # WHEN a step of another action moves the other item
    # THEN ConcurrentUpdate, and it did not move, nor did its history get written
    with pytest.raises(ConcurrentUpdate):
        stores_impl.writes.change_item(order.id, second.id, expect_status=ItemStatus.PENDING,
                                       fields={"status": ItemStatus.CANCELLED.value}, history=entry("stray"),
                                       action_id="another-action")
    after = stores_impl.orders.get_order(order.id)
    assert after.items[1].status is ItemStatus.PENDING and "stray" not in [h.action for h in after.history]


def test_change_item_needs_the_lock_even_when_the_item_is_as_expected(stores_impl: Stores) -> None:
    # GIVEN an order no action holds
    order = place(stores_impl)
    # WHEN a step names an action
    # THEN ConcurrentUpdate: its action no longer holds the order
    with pytest.raises(ConcurrentUpdate):
        stores_impl.writes.change_item(order.id, order.items[0].id, expect_status=ItemStatus.PENDING,
                                       fields={"status": ItemStatus.ACTIVE.value}, action_id="gone-action")
    assert stores_impl.orders.get_order(order.id).items[0].status is ItemStatus.PENDING


def test_change_item_does_not_move_the_order_version(stores_impl: Stores) -> None:
    # GIVEN an order read
    order = place(stores_impl)
    # WHEN one of its items changes
    stores_impl.writes.change_item(order.id, order.items[0].id, expect_status=ItemStatus.PENDING,
                                   fields={"status": ItemStatus.ACTIVE.value})
    # THEN the order record is untouched: a change decided on the read still applies (items aside)
    assert stores_impl.orders.get_order_header(order.id).version == order.version


def test_update_item_sets_fields_from_the_status_expected(stores_impl: Stores) -> None:
    # GIVEN a pending order
    order = place(stores_impl)
    item = order.items[0]
    # WHEN its first item gets a server, a module and an error noted, then loses the error
    stores_impl.writes.update_item(order.id, item.id, expect_status=ItemStatus.PENDING, server_id="srv-2",
                                   module="cpanel", last_error="timed out")
    noted = stores_impl.orders.get_order(order.id).items[0]
    stores_impl.writes.update_item(order.id, item.id, last_error=None)
    # THEN the fields were set, then the error removed; the status did not change
    assert (noted.server_id, noted.module, noted.last_error) == ("srv-2", "cpanel", "timed out")
    after = stores_impl.orders.get_order(order.id).items[0]
    assert after.last_error is None and after.status is ItemStatus.PENDING
    # WHEN fields are set expecting a status the item is not in, or on an item that does not exist
    # THEN ConcurrentUpdate both times
    with pytest.raises(ConcurrentUpdate):
        stores_impl.writes.update_item(order.id, item.id, expect_status=ItemStatus.ACTIVE, username="x")
    with pytest.raises(ConcurrentUpdate):
        stores_impl.writes.update_item(order.id, "no-such-item", last_error="x")
    assert stores_impl.orders.get_order(order.id).items[0].username == "ada"
