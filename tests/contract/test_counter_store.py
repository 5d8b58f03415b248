"""CounterStore: the order counts per status, and of orders needing attention, move once per
order version, never for an older version, and an order removed leaves its counts."""

from __future__ import annotations

from orderdesk.domain.queries import ATTENTION, Counted
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
