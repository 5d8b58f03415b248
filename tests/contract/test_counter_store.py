"""CounterStore: the order counts per status, and of orders needing attention, move once per
order version, never for an older version, and an order removed leaves its counts."""

from __future__ import annotations

import pytest

from orderdesk.domain.queries import ATTENTION, CountChange, Counted
from orderdesk.domain.statuses import OrderStatus
from orderdesk.services.ports import Stores

PENDING, ACTIVE, CANCELLED = Counted(OrderStatus.PENDING), Counted(OrderStatus.ACTIVE), Counted(OrderStatus.CANCELLED)
CANCELLED_LIVE = Counted(OrderStatus.CANCELLED, attention=True)  # cancelled, an account still live


def counts(stores: Stores) -> dict[str, int]:
    return {column: n for column, n in stores.counters.status_counts().items() if n}


def test_nothing_is_counted_at_first_and_every_column_is_there(stores_impl: Stores) -> None:
    # WHEN the counts of an empty store are read
    # THEN every status and the attention count are there, at zero
    assert stores_impl.counters.status_counts() == {**{s.value: 0 for s in OrderStatus}, ATTENTION: 0}


def test_a_new_order_counts_once_however_often_it_is_counted(stores_impl: Stores) -> None:
    # WHEN a new order (version 1) is counted Pending twice
    first = stores_impl.counters.count("o1", 1, PENDING)
    second = stores_impl.counters.count("o1", 1, PENDING)
    # THEN it counts once
    assert (first, second) == (True, False)
    assert counts(stores_impl) == {"Pending": 1}


def test_a_status_change_moves_the_count_once(stores_impl: Stores) -> None:
    # GIVEN two orders counted Pending
    stores_impl.counters.count("o1", 1, PENDING)
    stores_impl.counters.count("o2", 1, PENDING)
    # WHEN one becomes Active at version 2, counted twice
    moved = [stores_impl.counters.count("o1", 2, ACTIVE) for _ in range(2)]
    # THEN its count moved once
    assert moved == [True, False]
    assert counts(stores_impl) == {"Pending": 1, "Active": 1}


def test_attention_is_counted_beside_the_status_and_leaves_with_it(stores_impl: Stores) -> None:
    # GIVEN an order counted Active
    stores_impl.counters.count("o1", 1, ACTIVE)
    # WHEN it is cancelled with an account still live (needing attention), then the account is terminated
    stores_impl.counters.count("o1", 2, CANCELLED_LIVE)
    needing = counts(stores_impl)
    stores_impl.counters.count("o1", 3, CANCELLED)
    # THEN it counted Cancelled and needing attention, then Cancelled alone
    assert needing == {"Cancelled": 1, ATTENTION: 1}
    assert counts(stores_impl) == {"Cancelled": 1}


def test_an_older_version_counted_after_a_newer_changes_nothing(stores_impl: Stores) -> None:
    # GIVEN an order counted Cancelled at version 3
    stores_impl.counters.count("o1", 3, CANCELLED)
    # WHEN its older versions arrive late (Pending at 1, Active at 2, needing attention at 3)
    late = [stores_impl.counters.count("o1", 1, PENDING), stores_impl.counters.count("o1", 2, ACTIVE),
            stores_impl.counters.count("o1", 3, CANCELLED_LIVE)]
    # THEN nothing moves
    assert late == [False, False, False]
    assert counts(stores_impl) == {"Cancelled": 1}


def test_an_order_counted_before_the_records_existed_moves_from_what_it_was(stores_impl: Stores) -> None:
    # GIVEN counts holding an order as Cancelled needing attention, with no record of it (uncounted_was)
    stores_impl.counters.count("seed", 1, CANCELLED_LIVE)
    # WHEN an order nobody recorded is counted Active, known to have been that
    assert stores_impl.counters.count("o1", 5, ACTIVE, uncounted_was=CANCELLED_LIVE)
    # THEN its counts moved from Cancelled and attention to Active
    assert counts(stores_impl) == {"Active": 1}


def test_a_removed_order_leaves_its_counts_once(stores_impl: Stores) -> None:
    # GIVEN two orders counted Cancelled, one needing attention
    stores_impl.counters.count("o1", 2, CANCELLED_LIVE)
    stores_impl.counters.count("o2", 2, CANCELLED)
    # WHEN the first is removed (counted as nothing) at a newer version, twice
    removed = [stores_impl.counters.count("o1", 3, None) for _ in range(2)]
    # THEN it left its counts once
    assert removed == [True, False]
    assert counts(stores_impl) == {"Cancelled": 1}


def test_an_order_never_counted_and_now_gone_changes_nothing(stores_impl: Stores) -> None:
    # WHEN an order nobody counted is removed, what it was unknown
    # THEN nothing moves
    assert not stores_impl.counters.count("o1", 4, None)
    assert counts(stores_impl) == {}


def test_changes_counted_together_move_the_counts_as_one_by_one(stores_impl: Stores) -> None:
    # GIVEN orders counted one by one: o1 Pending at 1, o2 Active at 3, o3 Cancelled at 2
    c = stores_impl.counters
    c.count("o1", 1, PENDING)
    c.count("o2", 3, ACTIVE)
    c.count("o3", 2, CANCELLED)
    c.count("seed", 1, PENDING)  # what o5 below was counted as, by nobody's record
    # WHEN a batch counts together: o1 Active (2), o2 at an older version (2), o3 removed (3), a new
    # o4 Cancelled needing attention, an o5 counted before the records existed, and 150 new orders
    # (more than one transaction holds)
    batch = [CountChange("o1", 2, ACTIVE), CountChange("o2", 2, CANCELLED), CountChange("o3", 3, None),
             CountChange("o4", 1, CANCELLED_LIVE), CountChange("o5", 4, ACTIVE, uncounted_was=PENDING),
             *(CountChange(f"n{i}", 1, PENDING) for i in range(150))]
    left = c.count_many(batch)
    # THEN every count moved as counting them one by one would have moved it, and none is left over
    assert left == []
    assert counts(stores_impl) == {"Pending": 150, "Active": 3, "Cancelled": 1, ATTENTION: 1}
    # AND the same batch again (a redelivery) moves nothing
    assert c.count_many(batch) == []
    assert counts(stores_impl) == {"Pending": 150, "Active": 3, "Cancelled": 1, ATTENTION: 1}


def test_a_batch_names_each_order_once(stores_impl: Stores) -> None:
    with pytest.raises(ValueError):
        stores_impl.counters.count_many([CountChange("o1", 1, PENDING), CountChange("o1", 2, ACTIVE)])
    assert counts(stores_impl) == {}


def test_a_batch_whose_orders_were_counted_meanwhile_counts_none_of_them_and_leaves_them(table: str,
                                                                                        monkeypatch) -> None:
    # GIVEN DynamoDB's counters holding o1 Pending at version 1, and a batch that reads no record
    # of it (counted between the batch's read and its write)
    from orderdesk.adapters.store import view_records
    from orderdesk.services import ports

    ports.use_stores(None)
    c = ports.stores().counters
    c.count("o1", 1, PENDING)
    monkeypatch.setattr(view_records.CountedRecord, "batch_get", classmethod(lambda cls, *a, **k: iter(())))
    batch = [CountChange("o1", 2, ACTIVE), CountChange("o2", 1, PENDING)]
    # WHEN the batch is counted
    left = c.count_many(batch)
    # THEN its transaction was refused: nothing moved, both are left to count one by one, which then counts them right
    assert left == batch
    assert {k: n for k, n in c.status_counts().items() if n} == {"Pending": 1}
    monkeypatch.undo()
    assert [c.count(x.order_id, x.version, x.now, uncounted_was=x.uncounted_was) for x in left] == [True, True]
    assert {k: n for k, n in c.status_counts().items() if n} == {"Pending": 1, "Active": 1}
