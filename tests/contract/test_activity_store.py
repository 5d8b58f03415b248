"""ActivityStore: the activity log's entries put once, what a delete keeps of its order and the
entry its last write puts with it, an order's number from the order or from what its delete
kept, and the list newest first with its filters and cursor positions."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from orderdesk.domain.activity import ActivityEntry, ActivityFilter, ActivityType, deletion_of
from orderdesk.domain.errors import ConcurrentUpdate
from orderdesk.domain.statuses import OrderStatus
from orderdesk.services.ports import Stores
from tests.contract.builders import move, place

LATER = datetime(2100, 1, 1, tzinfo=UTC)


def entry(at: str, source: str, *, order_id: str | None = "o1", number: str | None = "100", actor: str = "ada",
          kind: ActivityType = ActivityType.NOTE, keep_until: datetime = LATER) -> ActivityEntry:
    return ActivityEntry(at=at, actor=actor, type=kind, action="note added", source=source, written_ns=1,
                         keep_until=keep_until, order_id=order_id, order_number=number, client_id="c1")


def every(stores: Stores, f: ActivityFilter | None = None, limit: int = 2) -> list[ActivityEntry]:
    """Every page of the list, followed to its end."""
    out, after = [], None
    while True:
        page = stores.activity.list_entries(f or ActivityFilter(), limit, after)
        out += page.entries
        if page.last_position is None:
            return out
        after = page.last_position


def test_an_entry_is_put_once_and_the_first_writing_stays(stores_impl: Stores) -> None:
    # GIVEN an entry put
    first = entry("2024-05-01T10:00:00Z", "o1#HIST#1")
    assert stores_impl.activity.add(first) is True
    # WHEN the same source is put again, with other content
    assert stores_impl.activity.add(replace(first, detail="changed")) is False
    # THEN it is there once, as first written
    (got,) = every(stores_impl)
    assert got == first


def test_the_list_is_newest_first_filtered_and_paged_without_repeats(stores_impl: Stores) -> None:
    # GIVEN entries of two orders, two actors, two types, over three days, one past its time
    for n, (at, number, actor, kind) in enumerate([
            ("2024-05-01T10:00:00Z", "100", "ada", ActivityType.NOTE),
            ("2024-05-02T10:00:00Z", "200", "bob", ActivityType.PAYMENT),
            ("2024-05-02T23:59:59Z", "100", "bob", ActivityType.NOTE),
            ("2024-05-03T00:00:00Z", "200", "ada", ActivityType.PAYMENT),
            ("2024-05-03T08:00:00Z", "100", "ada", ActivityType.ORDER)]):
        stores_impl.activity.add(entry(at, f"s{n}", number=number, actor=actor, kind=kind))
    stores_impl.activity.add(entry("2024-05-03T09:00:00Z", "old", keep_until=datetime(2020, 1, 1, tzinfo=UTC)))
    # WHEN read, two a page, with each filter
    ats = [e.at for e in every(stores_impl)]
    # THEN newest first, the expired one left out
    assert ats == ["2024-05-03T08:00:00Z", "2024-05-03T00:00:00Z", "2024-05-02T23:59:59Z", "2024-05-02T10:00:00Z",
                   "2024-05-01T10:00:00Z"]
    assert [e.at for e in every(stores_impl, ActivityFilter(order_number="200"))] == [
        "2024-05-03T00:00:00Z", "2024-05-02T10:00:00Z"]
    assert [e.source for e in every(stores_impl, ActivityFilter(actor="bob"))] == ["s2", "s1"]
    assert [e.source for e in every(stores_impl, ActivityFilter(type=ActivityType.PAYMENT))] == ["s3", "s1"]
    # (bounds: normalised timestamps, `to` inclusive to the second)
    window = ActivityFilter(from_="2024-05-02T10:00:00Z", to="2024-05-02T23:59:59Z")
    assert [e.source for e in every(stores_impl, window)] == ["s2", "s1"]
    both = ActivityFilter(order_number="100", actor="ada", from_="2024-05-01T10:00:00Z", to="2024-05-02T00:00:00Z")
    assert [e.source for e in every(stores_impl, both, limit=1)] == ["s0"]


def test_a_delete_keeps_its_entry_first_come_and_puts_it_with_the_orders_removal(stores_impl: Stores) -> None:
    # GIVEN a cancelled order, its deletion entry kept (and a second keeping, by a resumed delete)
    order = place(stores_impl, status=OrderStatus.CANCELLED)
    kept = deletion_of(order, actor="first", at="2024-05-02T00:00:00Z", written_ns=time.time_ns(), retention_days=36500)
    assert stores_impl.activity.keep_deletion(kept) == kept
    assert stores_impl.activity.keep_deletion(replace(kept, actor="second")).actor == "first"
    assert stores_impl.activity.kept_deletion(order.id) == kept
    # (while the order is there, its number comes from it)
    assert stores_impl.activity.order_ref(order.id).number == order.number  # type: ignore[union-attr]
    # WHEN the delete's last write runs with the entry
    final = replace(kept, at="2024-05-02T00:00:05Z", written_ns=time.time_ns())
    stores_impl.orders.delete_order_children(order.id)
    stores_impl.orders.delete_order_record(order, final)
    # THEN the entry is listed once, and the number still known from what the delete kept
    assert every(stores_impl, ActivityFilter(order_number=order.number)) == [final]
    ref = stores_impl.activity.order_ref(order.id)
    assert ref is not None and (ref.number, ref.client_id) == (order.number, order.client.id)
    assert stores_impl.activity.order_ref("never-was") is None


def test_a_delete_refused_puts_no_entry(stores_impl: Stores) -> None:
    # GIVEN an order read Cancelled that is Fraud by now
    order = place(stores_impl, status=OrderStatus.CANCELLED)
    current = stores_impl.orders.get_order(order.id)
    move(stores_impl, order.id, OrderStatus.FRAUD)
    entry_ = deletion_of(current, actor="a", at="2024-05-02T00:00:00Z", written_ns=1, retention_days=36500)
    # WHEN its last delete write runs from the status read
    with pytest.raises(ConcurrentUpdate):
        stores_impl.orders.delete_order_record(current, entry_)
    # THEN no entry says it is deleted
    assert every(stores_impl) == []
    assert stores_impl.activity.order_ref(order.id) is not None  # (the order is still there)


def test_entries_put_together_are_put_once_as_one_by_one(stores_impl: Stores) -> None:
    # GIVEN an entry put
    old = entry("2024-05-01T10:00:00Z", "o1#HIST#0")
    stores_impl.activity.add(old)
    # WHEN a batch puts it again (changed), with 120 new entries (more than one transaction holds)
    new = [entry(f"2024-05-01T11:{i // 60:02d}:{i % 60:02d}Z", f"o1#HIST#{i + 1}") for i in range(120)]
    left = stores_impl.activity.add_many([replace(old, detail="changed"), *new])
    # THEN each is there once, the old one as first written, and none is left over
    assert left == []
    assert every(stores_impl, limit=50) == [*reversed(new), old]
    # AND the batch again (a redelivery) changes nothing
    assert stores_impl.activity.add_many(new) == []
    assert len(every(stores_impl, limit=200)) == 121
