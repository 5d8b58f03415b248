"""DomainStore and the item fields of OrderChange: a domain's items found by its name until their
order is deleted, the domains waiting at their registrar (pending registrations only, oldest
first), and a registrar's event recorded once with the changes it makes, all or nothing; an item's
registration and last error set by the one write path, the attention list with them, and
recomputed when time alone moved it (`refresh_attention`)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orderdesk.domain.attention import DOMAIN_WAITING, FAILED_ITEM
from orderdesk.domain.changes import ItemFields, OrderChange
from orderdesk.domain.errors import ActionInProgress, ConcurrentUpdate
from orderdesk.domain.model import DomainRegistration, Order, RegistrationState, iso, utcnow
from orderdesk.domain.statuses import ItemStatus, OrderStatus
from orderdesk.services.ports import Stores
from tests.contract.builders import entry, lock, move, place


def sent(stores: Stores, domain: str, since: str, state: str = RegistrationState.PENDING) -> Order:
    """An active order whose last item is `domain`, sent to its registrar at `since` (waiting)."""
    order = move(stores, place(stores, domain=domain).id, OrderStatus.ACTIVE)
    item = order.items[-1]
    stores.writes.change_item(order.id, item.id, expect_status=item.status, fields={
        "status": ItemStatus.PENDING_REGISTRATION.value,
        "registration": DomainRegistration(state=state, reference="R-1", since=since)})
    return stores.orders.get_order(order.id)


def registered(order: Order, detail: str | None = None) -> OrderChange:
    item = order.items[-1]
    return OrderChange(item_statuses={item.id: ItemStatus.ACTIVE},
                       item_fields={item.id: ItemFields(registration=DomainRegistration(
                           state=RegistrationState.ACTIVE, reference="R-1", since=iso(utcnow()), detail=detail),
                           last_error=None)},
                       history=[entry("domain registration done")])


def test_a_domains_items_are_found_by_its_name_on_every_order_until_it_is_deleted(stores_impl: Stores) -> None:
    # GIVEN the same domain on two orders, another domain on a third, and an order with none
    first, second = place(stores_impl, domain="ada.example"), place(stores_impl, domain="ada.example")
    place(stores_impl, domain="grace.example")
    place(stores_impl)
    # WHEN the domain is looked up (as written, or in capitals)
    # THEN both of its items are found, on their orders, and nothing else
    both = sorted([(first.id, first.items[-1].id), (second.id, second.items[-1].id)])
    assert sorted(stores_impl.domains.items_of("ada.example")) == both
    assert sorted(stores_impl.domains.items_of("ADA.example")) == both
    assert stores_impl.domains.items_of("nobody.example") == []
    # WHEN the first order is deleted THEN only the second's item is found
    stores_impl.orders.delete_order_children(first.id)
    stores_impl.orders.delete_order_record(stores_impl.orders.get_order_header(first.id))
    assert stores_impl.domains.items_of("ada.example") == [(second.id, second.items[-1].id)]


def test_only_pending_registrations_wait_oldest_first_until_one_is_settled(stores_impl: Stores) -> None:
    # GIVEN domains sent at 10:00 and 09:00, one that failed, and one never sent
    newer = sent(stores_impl, "newer.example", "2024-05-01T10:00:00Z")
    older = sent(stores_impl, "older.example", "2024-05-01T09:00:00Z")
    sent(stores_impl, "failed.example", "2024-05-01T08:00:00Z", state=RegistrationState.FAILED)
    place(stores_impl, domain="unsent.example")
    # WHEN the waiting domains are listed THEN the two pending, oldest first
    assert list(stores_impl.domains.waiting()) == [(older.id, older.items[-1].id), (newer.id, newer.items[-1].id)]
    # WHEN one is registered through the one write path THEN it no longer waits
    stores_impl.writes.apply(older, registered(older))
    assert list(stores_impl.domains.waiting()) == [(newer.id, newer.items[-1].id)]


def test_an_event_is_recorded_once_with_its_changes(stores_impl: Stores) -> None:
    # GIVEN a domain waiting at its registrar
    order = sent(stores_impl, "ada.example", iso(utcnow()))
    assert not stores_impl.domains.event_seen("evt-1")
    # WHEN an event is recorded with the change it makes
    assert stores_impl.domains.record_event("evt-1", "ada.example", "active", [(order, registered(order, "done"))])
    # THEN the event is seen, the item Active with its registration, the order written once
    after = stores_impl.orders.get_order(order.id)
    item = after.items[-1]
    assert stores_impl.domains.event_seen("evt-1")
    assert item.status is ItemStatus.ACTIVE and item.last_error is None
    assert item.registration is not None and (item.registration.state, item.registration.detail) == ("active", "done")
    assert after.version == order.version + 1 and after.history[-1].action == "domain registration done"
    # WHEN the same event is recorded again (even with a change still possible) THEN False, nothing written
    assert not stores_impl.domains.record_event("evt-1", "ada.example", "active", [])
    again = stores_impl.domains.record_event("evt-1", "ada.example", "failed", [(after, OrderChange(item_fields={
        item.id: ItemFields(last_error="registrar: late")}))])
    assert again is False and stores_impl.orders.get_order(order.id) == after
    # AND an event that changes nothing is recorded alone
    assert stores_impl.domains.record_event("evt-2", "ada.example", "active", [])
    assert stores_impl.domains.event_seen("evt-2")


def test_an_event_whose_order_changed_or_is_held_writes_nothing_and_says_why(stores_impl: Stores) -> None:
    # GIVEN two waiting domains of one name on two orders, read; then the second order changed
    first, second = sent(stores_impl, "ada.example", iso(utcnow())), sent(stores_impl, "ada.example", iso(utcnow()))
    stores_impl.writes.apply(second, OrderChange(flagged_for_review=True))
    # WHEN an event with changes of both, the second as read before, is recorded
    # THEN ConcurrentUpdate; neither order changed, the event not recorded (it may be applied again)
    with pytest.raises(ConcurrentUpdate):
        stores_impl.domains.record_event("evt-1", "ada.example", "active",
                                         [(first, registered(first)), (second, registered(second))])
    assert not stores_impl.domains.event_seen("evt-1")
    assert stores_impl.orders.get_order(first.id).items[-1].status is ItemStatus.PENDING_REGISTRATION
    # WHEN an action holds the order THEN ActionInProgress, nothing written
    lock(stores_impl, first.id)
    with pytest.raises(ActionInProgress):
        stores_impl.domains.record_event("evt-1", "ada.example", "active", [(first, registered(first))])
    assert not stores_impl.domains.event_seen("evt-1")


def test_item_fields_move_the_attention_list_and_time_alone_is_refreshed_on_request(stores_impl: Stores) -> None:
    # GIVEN a domain sent 30 hours ago (its item's change alone recomputes no attention list)
    order = sent(stores_impl, "ada.example", iso(utcnow() - timedelta(hours=30)))
    item = order.items[-1]
    assert order.attention == []
    # WHEN time is refreshed THEN the wait shows, for that item
    stores_impl.writes.apply(order, OrderChange(refresh_attention=True))
    order = stores_impl.orders.get_order(order.id)
    assert [(a.code, a.item_id) for a in order.attention] == [(DOMAIN_WAITING, item.id)]
    # WHEN the registrar's failure is set on the item THEN the failure shows instead (failed is not waiting)
    failed = DomainRegistration(state=RegistrationState.FAILED, since=iso(utcnow()), detail="refused")
    stores_impl.writes.apply(order, OrderChange(item_fields={item.id: ItemFields(registration=failed,
                                                                                  last_error="registrar: refused")}))
    order = stores_impl.orders.get_order(order.id)
    assert [(a.code, a.item_id) for a in order.attention] == [(FAILED_ITEM, item.id)]
    assert order.items[-1].status is ItemStatus.PENDING_REGISTRATION
    assert order.items[-1].registration == failed and order.items[-1].last_error == "registrar: refused"
    # WHEN item fields are set from a status the item no longer has THEN ConcurrentUpdate, nothing written
    stale = order
    stores_impl.writes.apply(order, registered(order))
    with pytest.raises(ConcurrentUpdate):
        stores_impl.writes.apply(stale, OrderChange(item_fields={item.id: ItemFields(last_error="late")}))
    assert stores_impl.orders.get_order(order.id).items[-1].last_error is None
