"""Every filter of GET /orders, served by its index, answers exactly as a brute-force filter over
the same orders: hypothesis draws clients, a few hundred orders, renamed clients, changed domains,
deleted orders and the queries (each filter alone and combined, `q` from prefixes of the orders'
own words and from words nobody has, page sizes from 1 up), and every page of each answer is read.

`PROPERTY_EXAMPLES=20` hunts longer (default 3: each example writes its orders through the create
transaction and reads the table's stream)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderdesk.domain.model import AffiliateRef, Client
from orderdesk.domain.statuses import OrderStatus, PaymentStatus
from orderdesk.services import actions
from orderdesk.services import search as search_service
from orderdesk.services.ports import stores
from tests.conftest import OrderStream
from tests.integration.search_support import World, all_pages, fresh_table, put_client, rewrite_client

EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", "3"))

# small pools, so that words share prefixes, clients share names and filters match several orders
FIRST = ["Ada", "Adam", "Al", "Alan", "Zoë", "Mary Ann", "J", "Łukasz"]
LAST = ["Lovelace", "Love", "Berners-Lee", "O'Brien", "van Rossum", "Hopper", "Hop"]
MAIL = ["example.com", "mail.example.com", "ex.co.uk", "gmail.com", "gmx.de"]
COMPANY = [None, None, "Acme Hosting Ltd", "Acme", "Analytical Engines", "Hooli"]
LABEL = ["shop", "ada", "love", "lovelace", "exam", "example", "hop", "a", "zz"]
TLD = ["com", "co.uk", "io", "example.com"]
PROMO = [None, None, "A", "AB", "WELCOME10"]
IP = [None, "203.0.113.1", "203.0.113.2", "198.51.100.7"]
METHOD = ["stripe", "paypal", "banktransfer", "credit"]
AMOUNT = ["0.00", "0.99", "1.00", "4.99", "5.00", "19.99", "20.00", "120.00", "999.99", "2500.00", "1000000.00"]
AFFILIATES = [None, None, AffiliateRef("aff1", "One"), AffiliateRef("aff2", "Two")]


def client_of(draw: st.DrawFn) -> tuple[str, str, str, str | None]:
    first, last = draw(st.sampled_from(FIRST)), draw(st.sampled_from(LAST))
    local = draw(st.sampled_from([first.split()[0], f"{first.split()[0]}.{last.split()[-1]}", "info", "a"]))
    email = f"{local}{draw(st.integers(0, 3))}@{draw(st.sampled_from(MAIL))}"
    return first, last, email, draw(st.sampled_from(COMPANY))


def domain_of(draw: st.DrawFn) -> str:
    return f"{draw(st.sampled_from(LABEL))}{draw(st.sampled_from(['', '1', '12']))}.{draw(st.sampled_from(TLD))}"


def q_of(draw: st.DrawFn, world: World) -> str:
    """A prefix of some order's word (cut anywhere, re-cased), two of them, or a word nobody has."""
    kind = draw(st.sampled_from(["prefix", "prefix", "prefix", "two", "none", "one char"]))
    orders = list(world.orders.values())
    if kind == "none" or not orders:
        return draw(st.sampled_from(["zzqx", "q", "velace", "ample.com", "@", "lovelace@x"]))
    if kind == "one char":
        return draw(st.sampled_from(["a", "J", "z", "ł", "1"]))

    def prefix() -> str:
        term = draw(st.sampled_from(sorted(world.terms(draw(st.sampled_from(orders))))))
        cut = term[:draw(st.integers(1, len(term)))]
        return cut.upper() if draw(st.booleans()) else cut

    return f"{prefix()} {prefix()}" if kind == "two" else prefix()


def query_of(draw: st.DrawFn, world: World) -> dict[str, str]:
    orders = list(world.orders.values())
    one = draw(st.sampled_from(orders)) if orders else None
    options = {
        "q": lambda: q_of(draw, world),
        "status": lambda: draw(st.sampled_from([s.value for s in OrderStatus])),
        "client_id": lambda: draw(st.sampled_from([*world.clients, "nobody"])),
        "payment_status": lambda: draw(st.sampled_from([s.value for s in PaymentStatus])),
        "promo_code": lambda: draw(st.sampled_from(["A", "ab", "WELCOME10", "NONE"])),
        "ip_address": lambda: draw(st.sampled_from([ip for ip in IP if ip] + ["192.0.2.1"])),
        "affiliate_id": lambda: draw(st.sampled_from(["aff1", "aff2", "aff9"])),
        "payment_method": lambda: draw(st.sampled_from([*METHOD, "cash"])),
        "min_total": lambda: draw(st.sampled_from(["0.00", "0.99", "1.00", "5.00", "19.99", "100.00", "99999.00"])),
        "max_total": lambda: draw(st.sampled_from(["0.00", "1.00", "4.99", "20.00", "1000.00"])),
        "placed_from": lambda: draw(st.sampled_from(["2026-03-01", "2026-03-10", one.placed_at if one else "2026-03-05"])),
        "placed_to": lambda: draw(st.sampled_from(["2026-03-05", "2026-03-20", one.placed_at if one else "2026-03-15"])),
        "number": lambda: draw(st.sampled_from([one.number if one else "1", "1234567890"])),
    }
    names = draw(st.lists(st.sampled_from(sorted(options)), min_size=1, max_size=3, unique=True))
    return {name: options[name]() for name in names}


@pytest.mark.slow
@pytest.mark.timeout(600 + 300 * EXAMPLES)
@settings(max_examples=EXAMPLES, deadline=None, derandomize=os.environ.get("PROPERTY_SEED") != "random",
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_filter_answers_as_a_brute_force_filter(data: st.DataObject, dynamodb_local, ddb_client, keypair) -> None:
    draw = data.draw
    with fresh_table(ddb_client) as table:
        stream = OrderStream(table)
        world = World()
        # GIVEN clients and a few hundred orders, every attribute drawn
        clients: list[Client] = [put_client(*client_of(draw)) for _ in range(draw(st.integers(3, 8)))]
        for n in range(draw(st.integers(150, 260))):
            world.add_order(
                draw(st.sampled_from(clients)),
                placed_at=f"2026-03-{draw(st.integers(1, 28)):02d}T{draw(st.integers(0, 23)):02d}:"
                          f"{draw(st.integers(0, 59)):02d}:{n % 60:02d}Z",
                status=draw(st.sampled_from(list(OrderStatus))), payment=draw(st.sampled_from(list(PaymentStatus))),
                promo=draw(st.sampled_from(PROMO)), ip=draw(st.sampled_from(IP)), method=draw(st.sampled_from(METHOD)),
                affiliate=draw(st.sampled_from(AFFILIATES)),
                domains=[domain_of(draw) for _ in range(draw(st.integers(0, 2)))],
                amounts=[draw(st.sampled_from(AMOUNT))])
        for c in clients:
            world.clients[c.id] = c
        stream.settle()
        # AND some clients renamed (name, email or company), some items' domains changed, some
        # cancelled or fraud orders deleted, the stream read again
        for c in draw(st.lists(st.sampled_from(clients), max_size=3, unique_by=lambda c: c.id)):
            c.first_name, c.last_name, c.email, c.company = client_of(draw)
            c.email = c.email.lower()
            rewrite_client(c)
            search_service.reindex_client(c.id)
        with_domains = [(o, i) for o in world.orders.values() for i in o.items if i.domain]
        for order, item in draw(st.lists(st.sampled_from(with_domains), max_size=4, unique_by=lambda p: p[1].id)
                                if with_domains else st.just([])):
            new = domain_of(draw)
            stores().writes.update_item(order.id, item.id, domain=new)
            world.domains[order.id][item.id] = new
        gone = [o for o in world.orders.values() if o.status in (OrderStatus.CANCELLED, OrderStatus.FRAUD)]
        for order in draw(st.lists(st.sampled_from(gone), max_size=3, unique_by=lambda o: o.id) if gone
                          else st.just([])):
            actions.delete_order(order.id, "test")
            del world.orders[order.id]
        stream.settle()
        # WHEN queries of every filter, alone and combined, are read page by page
        for _ in range(draw(st.integers(12, 20))):
            query = query_of(draw, world)
            expected = world.expect(query)
            limit = draw(st.sampled_from([1, 3, 7, 25, 100]))
            if len(expected) > 30 * limit:
                limit = 100
            got, pages = all_pages(query, limit)
            # THEN each page holds the orders the brute force finds, once each, newest first
            assert got == expected, (query, limit)
            assert all(p["size"] <= limit for p in pages)
            if "number" not in query:
                assert all(p["size"] == limit for p in pages[:-1]), (query, pages)

