"""OrderStore.list_orders: newest first, pages that give each order once, and every filter of
GET /orders (alone and with the ones that choose another index)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderdesk.domain.model import AffiliateRef, Order
from orderdesk.domain.queries import OrderFilter
from orderdesk.domain.statuses import InvoiceStatus, OrderStatus, PaymentStatus
from orderdesk.services.ports import Stores
from tests.contract.builders import Spec, index_for_search, move, place

ADA = "ada lovelace ada@example.com"
GRACE = {"client_name": "Grace Hopper", "client_email": "grace@navy.example", "domain": "hopper.example"}
# four orders that differ in every field a filter reads (placed a month apart: a oldest, d newest)
SEEDS: dict[str, Spec] = {
    "a": Spec(client_id="c1", placed_at="2024-01-10T09:00:00Z", status=OrderStatus.PENDING, promo_code="SPRING",
              payment_method="stripe", ip_address="198.51.100.1", affiliate=AffiliateRef(id="af1", name="Blog"),
              amounts=("10.00",), search=ADA),
    "b": Spec(client_id="c2", placed_at="2024-02-10T09:00:00Z", status=OrderStatus.ACTIVE,
              payment_method="manual", ip_address="198.51.100.2", amounts=("50.00",),
              invoice_status=InvoiceStatus.PAID, search="grace hopper grace@navy.example hopper.example", **GRACE),
    "c": Spec(client_id="c1", placed_at="2024-03-10T09:00:00Z", status=OrderStatus.CANCELLED, promo_code="SPRING",
              payment_method="manual", ip_address="198.51.100.1", affiliate=AffiliateRef(id="af2", name="Forum"),
              amounts=("100.00", "20.00"), search=ADA),
    "d": Spec(client_id="c3", placed_at="2024-04-10T09:00:00Z", status=OrderStatus.PENDING,
              payment_method="paypal", ip_address="198.51.100.3", affiliate=AffiliateRef(id="af1", name="Blog"),
              amounts=("75.50",), search="alan turing alan@example.org", client_name="Alan Turing",
              client_email="alan@example.org"),
}


@pytest.fixture()
def seeded(stores_impl: Stores) -> tuple[Stores, dict[str, Order]]:
    orders = {name: place(stores_impl, spec) for name, spec in SEEDS.items()}
    for order in orders.values():
        index_for_search(stores_impl, order)
    return stores_impl, orders


def names(found: list[Order], orders: dict[str, Order]) -> list[str]:
    by_id = {o.id: name for name, o in orders.items()}
    return [by_id[o.id] for o in found]


# each filter alone and with those that choose another index (number: its own test below)
CASES: list[tuple[OrderFilter, list[str]]] = [
    (OrderFilter(), ["d", "c", "b", "a"]),
    (OrderFilter(status=OrderStatus.PENDING), ["d", "a"]),
    (OrderFilter(client_id="c1"), ["c", "a"]),
    (OrderFilter(client_id="c1", status=OrderStatus.PENDING), ["a"]),
    (OrderFilter(payment_status=PaymentStatus.PAID), ["b"]),
    (OrderFilter(placed_from="2024-02-10T09:00:00Z"), ["d", "c", "b"]),  # both bounds take their own second
    (OrderFilter(placed_to="2024-02-10T09:00:00Z"), ["b", "a"]),
    (OrderFilter(placed_from="2024-02-01T00:00:00Z", placed_to="2024-03-31T23:59:59Z"), ["c", "b"]),
    (OrderFilter(status=OrderStatus.PENDING, placed_from="2024-02-01T00:00:00Z"), ["d"]),
    (OrderFilter(client_id="c1", placed_to="2024-02-01T00:00:00Z"), ["a"]),
    (OrderFilter(promo_code="SPRING"), ["c", "a"]),
    (OrderFilter(payment_method="manual"), ["c", "b"]),
    (OrderFilter(ip_address="198.51.100.1"), ["c", "a"]),
    (OrderFilter(affiliate_id="af1"), ["d", "a"]),
    (OrderFilter(min_total=Decimal("50.00")), ["d", "c", "b"]),  # inclusive
    (OrderFilter(max_total=Decimal("75.50")), ["d", "b", "a"]),  # inclusive
    (OrderFilter(min_total=Decimal("20"), max_total=Decimal("100")), ["d", "b"]),
    (OrderFilter(q="LOVELACE"), ["c", "a"]),  # any case
    (OrderFilter(q="hopper.example"), ["b"]),  # a domain of the order
    (OrderFilter(q="hop"), ["b"]),  # the start of a word (the name's, the domain's)
    (OrderFilter(q="grace@navy"), ["b"]),  # the start of the email address
    (OrderFilter(q="example.org"), ["d"]),  # the email's domain
    (OrderFilter(q="a"), ["d", "c", "a"]),  # one character: every order with a word starting so
    (OrderFilter(q="ada lovelace"), ["c", "a"]),  # every word must match
    (OrderFilter(q="ada turing"), []),
    (OrderFilter(q="velace"), []),  # inside a word is not the start of one
    (OrderFilter(q="nobody"), []),
    (OrderFilter(q="lovelace", promo_code="SPRING", status=OrderStatus.CANCELLED), ["c"]),
    (OrderFilter(status=OrderStatus.FRAUD), []),
    (OrderFilter(client_id="c1", payment_method="stripe", promo_code="SPRING", affiliate_id="af1"), ["a"]),
]


def test_each_filter_gives_the_matching_orders_newest_first(seeded: tuple[Stores, dict[str, Order]]) -> None:
    # GIVEN four orders that differ in every field a filter reads
    stores, orders = seeded
    # WHEN the list is asked for with each filter (one seeding for all: DynamoDB Local is slow to fill)
    wrong = {}
    for f, expected in CASES:
        page = stores.orders.list_orders(f, 50, None)
        got = names(page.orders, orders)
        if got != expected or page.last_sort_key is not None:
            wrong[repr({k: v for k, v in vars(f).items() if v is not None})] = (got, expected, page.last_sort_key)
    # THEN exactly the matching orders, newest first, in one page, for every filter
    assert wrong == {}


def test_a_list_row_is_the_order_record(seeded: tuple[Stores, dict[str, Order]]) -> None:
    # GIVEN the seeded orders
    stores, orders = seeded
    # WHEN listed
    row = stores.orders.list_orders(OrderFilter(client_id="c2"), 10, None).orders[0]
    # THEN a row carries the order's own fields, not its items or invoice
    assert (row.id, row.number, row.status, row.total, row.payment_status) == (
        orders["b"].id, orders["b"].number, OrderStatus.ACTIVE, Decimal("50.00"), PaymentStatus.PAID)
    assert row.items == [] and row.invoice is None and row.history == []


def test_the_number_filter_finds_one_order_and_still_applies_the_others(
        seeded: tuple[Stores, dict[str, Order]]) -> None:
    # GIVEN the seeded orders
    stores, orders = seeded
    number = orders["c"].number
    # WHEN one order is asked for by its number, alone, with a filter it meets, with one it does not, and past a cursor
    alone = stores.orders.list_orders(OrderFilter(number=number), 10, None)
    met = stores.orders.list_orders(OrderFilter(number=number, status=OrderStatus.CANCELLED, client_id="c1"), 10, None)
    unmet = stores.orders.list_orders(OrderFilter(number=number, status=OrderStatus.PENDING), 10, None)
    paged = stores.orders.list_orders(OrderFilter(number=number), 10, "2099-01-01T00:00:00Z#x")
    unknown = stores.orders.list_orders(OrderFilter(number="1000000000"), 10, None)
    # THEN that order, only while the other filters hold, on one page
    assert names(alone.orders, orders) == ["c"] and alone.last_sort_key is None
    assert names(met.orders, orders) == ["c"]
    assert unmet.orders == [] and paged.orders == [] and unknown.orders == []


def read_all(stores: Stores, f: OrderFilter, limit: int) -> tuple[list[str], int]:
    ids: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        page = stores.orders.list_orders(f, limit, after)
        pages += 1
        ids += [o.id for o in page.orders]
        assert len(page.orders) <= limit
        if page.last_sort_key is None:
            return ids, pages
        after = page.last_sort_key


def test_pages_give_every_order_once_newest_first(stores_impl: Stores) -> None:
    # GIVEN eight orders, three of them placed in the same second
    times = ["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z", "2024-01-03T00:00:00Z",
             "2024-01-03T00:00:00Z", "2024-01-04T00:00:00Z", "2024-01-05T00:00:00Z", "2024-01-06T00:00:00Z"]
    placed = [place(stores_impl, placed_at=t) for t in times]
    newest_first = [o.id for o in sorted(placed, key=lambda o: (o.placed_at, o.id), reverse=True)]
    # WHEN they are read three at a time, each page after the last one's cursor
    ids, pages = read_all(stores_impl, OrderFilter(), 3)
    # THEN each order comes once, newest first (one second's orders by id), in three pages
    assert ids == newest_first
    assert pages == 3


def test_no_empty_page_after_a_full_last_page(stores_impl: Stores) -> None:
    # GIVEN six orders
    for day in range(1, 7):
        place(stores_impl, placed_at=f"2024-01-0{day}T00:00:00Z")
    # WHEN read three at a time
    first = stores_impl.orders.list_orders(OrderFilter(), 3, None)
    assert first.last_sort_key is not None
    second = stores_impl.orders.list_orders(OrderFilter(), 3, first.last_sort_key)
    # THEN the second page is the last: no cursor to an empty third
    assert len(second.orders) == 3 and second.last_sort_key is None


def test_pages_of_a_filtered_list_give_each_match_once(stores_impl: Stores) -> None:
    # GIVEN ten orders, alternately Pending and Active, two of the Pending ones placed in one second
    placed = [place(stores_impl, placed_at=f"2024-02-{day:02d}T00:00:00Z",
                    status=OrderStatus.PENDING if day % 2 else OrderStatus.ACTIVE) for day in range(1, 10)]
    placed.append(place(stores_impl, placed_at="2024-02-09T00:00:00Z"))
    pending = [o.id for o in sorted((o for o in placed if o.status is OrderStatus.PENDING),
                                    key=lambda o: (o.placed_at, o.id), reverse=True)]
    # WHEN the Pending ones are read two at a time, and the whole list four at a time
    ids, _ = read_all(stores_impl, OrderFilter(status=OrderStatus.PENDING), 2)
    every, _ = read_all(stores_impl, OrderFilter(), 4)
    # THEN each matching order once, newest first; and every order once
    assert ids == pending
    assert sorted(every) == sorted(o.id for o in placed) and len(every) == 10


def test_a_status_change_moves_the_order_between_status_lists(stores_impl: Stores) -> None:
    # GIVEN a pending order
    order = place(stores_impl)
    # WHEN it is cancelled
    move(stores_impl, order.id, OrderStatus.CANCELLED)
    # THEN the cancelled list has it and the pending list no longer does
    cancelled = stores_impl.orders.list_orders(OrderFilter(status=OrderStatus.CANCELLED), 10, None)
    pending = stores_impl.orders.list_orders(OrderFilter(status=OrderStatus.PENDING), 10, None)
    assert [o.id for o in cancelled.orders] == [order.id] and pending.orders == []
