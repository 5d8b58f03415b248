"""OrderStore: an order stored and read back whole, its number unique, notes, passwords, the two
steps of a delete, and what fraud screening and the cleanups ask of the orders."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from orderdesk.domain.errors import ConcurrentUpdate, OrderNotFound
from orderdesk.domain.model import Note
from orderdesk.domain.statuses import InvoiceStatus, ItemStatus, OrderStatus, PaymentStatus
from orderdesk.services.ports import Stores
from tests.contract.builders import AT, LATER, Spec, entry, lock, move, parts, place


def test_order_read_back_whole_with_items_invoice_and_history(stores_impl: Stores) -> None:
    # GIVEN an order of two items, one with an encrypted password, its invoice and its first history entry
    order, items, invoice, passwords, history = parts(Spec(passwords={0: "enc-secret"}))
    # WHEN it is stored and read back
    stores_impl.orders.create_order(order, items, invoice, passwords, history, "ada lovelace")
    found = stores_impl.orders.get_order(order.id)
    # THEN every field comes back, the items in their order, paid as their invoice says
    assert (found.id, found.number, found.placed_at, found.status) == (order.id, order.number, AT,
                                                                       OrderStatus.PENDING)
    assert found.client == order.client and found.total == Decimal("30.00") and found.currency == "USD"
    assert found.invoice_id == invoice.id and found.payment_status is PaymentStatus.UNPAID
    assert found.pending_action is None and found.version >= 1
    assert [(i.id, i.description, i.amount, i.status) for i in found.items] == [
        (i.id, i.description, i.amount, ItemStatus.PENDING) for i in items]
    assert [i.has_password for i in found.items] == [True, False]
    assert all(i.payment_status is PaymentStatus.UNPAID for i in found.items)
    assert (found.items[0].server_id, found.items[0].username, found.items[0].module) == ("srv-1", "ada", "webhook")
    assert found.invoice is not None and found.invoice.version >= 1 and replace(found.invoice, version=0) == invoice
    assert found.detail_loaded and found.attention == []
    assert found.history == [history]
    assert found.admin_notes == [] and found.actions == []
    # AND the header is the order record alone
    header = stores_impl.orders.get_order_header(order.id)
    assert header.id == order.id and header.items == [] and header.invoice is None and header.history == []
    assert header.version == found.version


def test_items_are_paid_as_their_invoice_says(stores_impl: Stores) -> None:
    # GIVEN an order whose invoice is Paid, stored with an order record that still says Unpaid
    order, items, invoice, passwords, history = parts(Spec(invoice_status=InvoiceStatus.PAID))
    order.payment_status = PaymentStatus.UNPAID
    stores_impl.orders.create_order(order, items, invoice, passwords, history, "ada")
    # WHEN it is read whole
    found = stores_impl.orders.get_order(order.id)
    # THEN its items are paid as the invoice says; the order record keeps its own copy
    assert [i.payment_status for i in found.items] == [PaymentStatus.PAID, PaymentStatus.PAID]
    assert found.payment_status is PaymentStatus.UNPAID


def test_changing_a_returned_order_changes_nothing_stored(stores_impl: Stores) -> None:
    # GIVEN an order read back
    order = place(stores_impl)
    read = stores_impl.orders.get_order(order.id)
    # WHEN the caller changes what it got, deep inside too
    read.status = OrderStatus.FRAUD
    read.items[0].status = ItemStatus.ACTIVE
    assert read.invoice is not None
    read.invoice.lines.clear()
    read.history.append(entry("made up"))
    # THEN the stored order is as it was (compared with values, not with another object it might share)
    again = stores_impl.orders.get_order(order.id)
    assert again.status is OrderStatus.PENDING and again.items[0].status is ItemStatus.PENDING
    assert again.invoice is not None and len(again.invoice.lines) == 2
    assert [h.action for h in again.history] == ["order placed"]
    assert again is not read and again.items[0] is not read.items[0]


def test_changing_what_was_passed_in_changes_nothing_stored(stores_impl: Stores) -> None:
    # GIVEN an order stored
    order, items, invoice, passwords, history = parts(Spec())
    stores_impl.orders.create_order(order, items, invoice, passwords, history, "ada")
    # WHEN the caller changes the objects it passed (as create_order's service does afterwards)
    items[0].status = ItemStatus.ACTIVE
    invoice.lines.clear()
    history.action = "rewritten"
    order.status = OrderStatus.CANCELLED
    order.items = items
    # THEN nothing stored changed
    stored = stores_impl.orders.get_order(order.id)
    assert stored.status is OrderStatus.PENDING and stored.items[0].status is ItemStatus.PENDING
    assert stored.invoice is not None and len(stored.invoice.lines) == 2
    assert [h.action for h in stored.history] == ["order placed"]
    assert stores_impl.orders.get_order_header(order.id).items == []


def test_an_order_number_is_taken_once(stores_impl: Stores) -> None:
    # GIVEN an order stored
    first = place(stores_impl)
    # WHEN another order comes with the same number
    order, items, invoice, passwords, history = parts(Spec())
    order.number = first.number
    # THEN it is refused as a lost race (the service draws another number) and nothing of it is stored
    with pytest.raises(ConcurrentUpdate):
        stores_impl.orders.create_order(order, items, invoice, passwords, history, "ada")
    with pytest.raises(OrderNotFound):
        stores_impl.orders.get_order(order.id)


def test_an_order_id_is_taken_once(stores_impl: Stores) -> None:
    # GIVEN an order stored
    first = place(stores_impl)
    # WHEN another order comes with the same id
    order, items, invoice, passwords, history = parts(Spec(status=OrderStatus.FRAUD))
    order.id = first.id
    # THEN it is refused and the first order is as it was
    with pytest.raises(ConcurrentUpdate):
        stores_impl.orders.create_order(order, items, invoice, passwords, history, "ada")
    assert stores_impl.orders.get_order(first.id) == first


def test_unknown_order_is_not_found(stores_impl: Stores) -> None:
    # WHEN an order nobody stored is read, whole or its header
    # THEN OrderNotFound, both ways
    with pytest.raises(OrderNotFound):
        stores_impl.orders.get_order("no-such-order")
    with pytest.raises(OrderNotFound):
        stores_impl.orders.get_order_header("no-such-order")


def test_notes_are_kept_in_time_order_with_their_history(stores_impl: Stores) -> None:
    # GIVEN an order
    order = place(stores_impl)
    # WHEN two notes are added, the later one first
    late = Note(id="note-a", at="2024-05-02T09:00:00Z", author="sam", text="second")  # ids sort against time
    early = Note(id="note-b", at="2024-05-01T12:00:00Z", author="kim", text="first")
    stores_impl.orders.add_note(order.id, late, entry("note added", at=late.at))
    stores_impl.orders.add_note(order.id, early, entry("note added", at=early.at))
    # THEN both are there, in time order, each with a history entry (history in time order too)
    found = stores_impl.orders.get_order(order.id)
    assert found.admin_notes == [early, late]
    assert [(h.action, h.at) for h in found.history] == [
        ("order placed", AT), ("note added", early.at), ("note added", late.at)]


def test_a_note_on_an_unknown_order_is_refused(stores_impl: Stores) -> None:
    # WHEN a note is added to an order nobody stored
    # THEN OrderNotFound
    with pytest.raises(OrderNotFound):
        stores_impl.orders.add_note("no-such-order", Note(id="n1", at=AT, author="kim", text="hi"), entry("note"))


def test_history_of_one_second_keeps_the_order_it_was_written_in(stores_impl: Stores) -> None:
    # GIVEN an order
    order = place(stores_impl)
    # WHEN five entries of the same second are written one after another
    for n in range(5):
        stores_impl.writes.add_history(order.id, entry(f"step {n}"))
    # THEN they read back in that order
    assert [h.action for h in stores_impl.orders.get_order(order.id).history][1:] == [f"step {n}" for n in range(5)]


def test_an_item_password_is_given_only_for_its_item(stores_impl: Stores) -> None:
    # GIVEN an order whose first item has an encrypted password
    order = place(stores_impl, passwords={0: "enc-1"})
    # THEN the provisioning step gets it for that item, nothing for the others or an unknown order
    assert stores_impl.orders.item_password(order.id, order.items[0].id) == "enc-1"
    assert stores_impl.orders.item_password(order.id, order.items[1].id) is None
    assert stores_impl.orders.item_password("no-such-order", order.items[0].id) is None


def test_delete_removes_the_children_then_the_order_and_frees_its_number(stores_impl: Stores) -> None:
    # GIVEN a cancelled order with two items, an invoice, a note, an action and three history entries
    order = move(stores_impl, place(stores_impl).id, OrderStatus.CANCELLED)
    stores_impl.orders.add_note(order.id, Note(id="n1", at=LATER, author="kim", text="bye"), entry("note added"))
    lock(stores_impl, order.id, "delete")
    header = stores_impl.orders.get_order_header(order.id)
    # WHEN its other records are deleted
    deleted = stores_impl.orders.delete_order_children(order.id)
    # THEN they are counted (2 items, invoice, note, action, 4 history entries) and gone; the order is still there
    assert deleted == 9
    left = stores_impl.orders.get_order(order.id)
    assert (left.items, left.invoice, left.admin_notes, left.actions, left.history) == ([], None, [], [], [])
    # WHEN the order record goes, from the status it was read in
    stores_impl.orders.delete_order_record(header)
    # THEN the order is gone, a second pass finds nothing, and its number can be taken again
    with pytest.raises(OrderNotFound):
        stores_impl.orders.get_order_header(order.id)
    assert stores_impl.orders.delete_order_children(order.id) == 0
    again, items, invoice, passwords, history = parts(Spec())
    again.number = order.number
    stores_impl.orders.create_order(again, items, invoice, passwords, history, "ada")
    assert stores_impl.orders.get_order(again.id).number == order.number


def test_the_order_record_is_not_deleted_from_a_status_it_has_left(stores_impl: Stores) -> None:
    # GIVEN an order read as Cancelled, then set to Fraud
    order = move(stores_impl, place(stores_impl).id, OrderStatus.CANCELLED)
    move(stores_impl, order.id, OrderStatus.FRAUD)
    # WHEN its record is deleted from the status read
    # THEN ConcurrentUpdate, and the order is still there
    with pytest.raises(ConcurrentUpdate):
        stores_impl.orders.delete_order_record(order)
    assert stores_impl.orders.get_order_header(order.id).status is OrderStatus.FRAUD


def test_deleting_an_order_record_that_is_gone_is_refused(stores_impl: Stores) -> None:
    # GIVEN an order deleted
    order = stores_impl.orders.get_order_header(place(stores_impl, status=OrderStatus.CANCELLED).id)
    stores_impl.orders.delete_order_record(order)
    # WHEN its record is deleted again
    # THEN ConcurrentUpdate (the service then finds it gone)
    with pytest.raises(ConcurrentUpdate):
        stores_impl.orders.delete_order_record(order)


def test_iter_orders_gives_one_status_placed_before_a_time(stores_impl: Stores) -> None:
    # GIVEN pending orders of three days and a cancelled one
    old = place(stores_impl, placed_at="2024-01-01T00:00:00Z")
    edge = place(stores_impl, placed_at="2024-01-02T00:00:00Z")
    place(stores_impl, placed_at="2024-01-03T00:00:00Z")
    place(stores_impl, placed_at="2024-01-01T00:00:00Z", status=OrderStatus.CANCELLED)
    # WHEN the pending ones placed before the second day are asked for
    found = list(stores_impl.orders.iter_orders(OrderStatus.PENDING, placed_before="2024-01-02T00:00:00Z"))
    # THEN only the oldest (the bound is exclusive), and every pending one without a bound
    assert [o.id for o in found] == [old.id]
    every = {o.id for o in stores_impl.orders.iter_orders(OrderStatus.PENDING)}
    assert len(every) == 3 and {old.id, edge.id} <= every


def test_iter_locked_orders_gives_the_orders_an_action_holds(stores_impl: Stores) -> None:
    # GIVEN three orders, one held by an action
    held = place(stores_impl)
    place(stores_impl)
    place(stores_impl)
    action = lock(stores_impl, held.id)
    # THEN only that one is locked, with its lock
    found = list(stores_impl.orders.iter_locked_orders())
    assert [o.id for o in found] == [held.id]
    assert found[0].pending_action is not None and found[0].pending_action.action_id == action.id


def test_fraud_screening_counts_orders_of_an_ip_and_of_a_client_in_a_window(stores_impl: Stores) -> None:
    # GIVEN orders from one IP and one client over a few hours (two just outside the window), and others
    me = place(stores_impl, placed_at="2024-05-01T10:00:00Z", ip_address="203.0.113.9", client_id="c-9")
    place(stores_impl, placed_at="2024-05-01T09:00:00Z", ip_address="203.0.113.9", client_id="c-9")
    place(stores_impl, placed_at="2024-05-01T10:00:00Z", ip_address="203.0.113.9", client_id="c-8")
    place(stores_impl, placed_at="2024-05-01T06:00:00Z", ip_address="203.0.113.9", client_id="c-9")
    place(stores_impl, placed_at="2024-05-01T10:00:01Z", ip_address="203.0.113.9", client_id="c-9")
    other = place(stores_impl, placed_at="2024-05-01T09:30:00Z", ip_address="203.0.113.10", client_id="c-7")
    # WHEN the orders of the window 09:00-10:00 (both ends in) besides this one are counted
    window = ("2024-05-01T09:00:00Z", "2024-05-01T10:00:00Z")
    # THEN the IP's and the client's, without this order
    assert stores_impl.orders.orders_of_ip_between("203.0.113.9", *window, exclude_id=me.id) == 2
    assert stores_impl.orders.orders_of_client_between("c-9", *window, exclude_id=me.id) == 1
    assert stores_impl.orders.client_has_other_orders("c-9", exclude_id=me.id)
    assert not stores_impl.orders.client_has_other_orders("c-7", exclude_id=other.id)


def test_a_client_with_one_order_has_no_other(stores_impl: Stores) -> None:
    # GIVEN a client's only order
    only = place(stores_impl, client_id="c-1")
    # THEN it has no other order, and a client without orders has none either
    assert not stores_impl.orders.client_has_other_orders("c-1", exclude_id=only.id)
    assert not stores_impl.orders.client_has_other_orders("c-none", exclude_id=only.id)
