"""SearchStore: the search document of each order (written with it, as the client and its items
were; gone with it), changed only where it exists and differs; postings and terms as the stream's
projection writes them (each write idempotent); what the backfill and the domain projection read."""

from __future__ import annotations

from orderdesk.domain import search
from orderdesk.services.ports import Stores
from tests.contract.builders import place


def test_a_new_order_has_the_document_of_its_client_and_domains_until_it_is_deleted(stores_impl: Stores) -> None:
    # GIVEN an order of Grace Hopper with a domain item
    order = place(stores_impl, client_name="Grace Hopper", client_email="grace@navy.example",
                  domain="Shop.Hopper.example")
    # WHEN its document is read
    doc = stores_impl.search.get_doc(order.id, order.placed_at)
    # THEN it holds the client's words as ordered and the domain with its parents, normalised
    assert doc is not None and (doc.order_id, doc.client_id) == (order.id, order.client.id)
    assert doc.client_terms == search.client_terms("Grace Hopper", "grace@navy.example", None)
    assert doc.domain_terms == {"shop.hopper.example", "hopper.example"}
    assert stores_impl.search.get_doc(order.id, "2001-01-01T00:00:00Z") is None  # keyed by when it was placed
    # AND its domains are what the domain projection reads
    assert stores_impl.search.order_domains(order.id) == (order.placed_at, ["Shop.Hopper.example"])
    # WHEN the order is deleted
    stores_impl.orders.delete_order_children(order.id)
    stores_impl.orders.delete_order_record(order)
    # THEN its document and its domains are gone
    assert stores_impl.search.get_doc(order.id, order.placed_at) is None
    assert stores_impl.search.order_domains(order.id) is None


def test_new_client_terms_reach_every_order_of_the_client_once(stores_impl: Stores) -> None:
    # GIVEN two orders of one client and one of another
    mine = [place(stores_impl, client_id="c1"), place(stores_impl, client_id="c1")]
    other = place(stores_impl, client_id="c2")
    renamed = search.client_terms("Ada King", "countess@example.org", "Analytical Engines")
    # WHEN the client's terms change, twice
    first = stores_impl.search.set_client_terms("c1", renamed)
    again = stores_impl.search.set_client_terms("c1", renamed)
    # THEN both of its orders changed the first time, none the second; the other client's did not
    assert (first, again) == (2, 0)
    for order in mine:
        doc = stores_impl.search.get_doc(order.id, order.placed_at)
        assert doc is not None and doc.client_terms == renamed
    doc = stores_impl.search.get_doc(other.id, other.placed_at)
    assert doc is not None and doc.client_terms == search.client_terms("Ada Lovelace", "ada@example.com", None)


def test_one_order_s_terms_change_only_where_its_document_is_and_differs(stores_impl: Stores) -> None:
    # GIVEN an order
    order = place(stores_impl)
    doc = stores_impl.search.get_doc(order.id, order.placed_at)
    assert doc is not None
    # WHEN its client terms are set to what they are, then to new ones, and its domains likewise
    same = stores_impl.search.set_order_client_terms(order.id, order.placed_at, doc.client_terms)
    new = stores_impl.search.set_order_client_terms(order.id, order.placed_at, frozenset({"grace"}))
    domains = stores_impl.search.set_domain_terms(order.id, order.placed_at, frozenset({"shop.example"}))
    gone = stores_impl.search.set_domain_terms("no-such-order", order.placed_at, frozenset({"x.example"}))
    # THEN only the changes that change something say so, and the document holds them
    assert (same, new, domains, gone) == (False, True, True, False)
    after = stores_impl.search.get_doc(order.id, order.placed_at)
    assert after is not None and after.terms == {"grace", "shop.example"}


def test_the_backfill_finds_orders_without_a_document_and_writes_each_once(stores_impl: Stores) -> None:
    # GIVEN an order with its document, and one whose document is gone (deleted with it): what
    # an order from before the index looks like to the backfill
    indexed = place(stores_impl)
    older = place(stores_impl, client_name="Alan Turing", client_email="alan@example.org")
    stores_impl.orders.delete_order_children(older.id)
    stores_impl.orders.delete_order_record(older)
    assert stores_impl.search.get_doc(older.id, older.placed_at) is None
    # WHEN the backfill asks which orders lack one and writes theirs, twice
    missing = [o.id for o in stores_impl.search.iter_docs_missing([indexed, older])]
    wrote = [stores_impl.search.put_doc_if_missing(older, older.items) for _ in range(2)]
    # THEN only the order without one is named, and its document is written the first time only
    assert missing == [older.id] and wrote == [True, False]
    doc = stores_impl.search.get_doc(older.id, older.placed_at)
    assert doc is not None and "turing" in doc.client_terms


def test_postings_and_terms_are_written_once_however_often_they_are_asked_for(stores_impl: Stores) -> None:
    # GIVEN the terms of a document
    terms = {"ada", "lovelace", "ada@example.com"}
    # WHEN they are listed twice, and an order's postings added, replayed and partly removed
    listed = [stores_impl.search.ensure_terms(terms), stores_impl.search.ensure_terms(terms | {"example.com"})]
    posted = stores_impl.search.post("o1", "2024-01-01T00:00:00Z", terms, ())
    replayed = stores_impl.search.post("o1", "2024-01-01T00:00:00Z", terms, ())
    moved = stores_impl.search.post("o1", "2024-01-01T00:00:00Z", {"king"}, {"lovelace", "king"})
    # THEN each term is listed once; every posting is one record written, the removal of a term
    # also added in the same call is no write
    assert listed == [3, 1]
    assert (posted, replayed, moved) == (3, 3, 2)


def test_postings_of_many_orders_are_written_as_for_each_one(stores_impl: Stores) -> None:
    # GIVEN o1's postings written on their own
    at = "2024-01-01T00:00:00Z"
    assert stores_impl.search.post("o1", at, {"ada", "lovelace"}, ()) == 2
    # WHEN o1 loses a term and o2, o3 gain theirs in one call, then the same call again
    changes = [("o1", at, frozenset(), frozenset({"lovelace"})), ("o2", at, frozenset({"ada", "king"}), frozenset()),
               ("o3", at, frozenset({"grace"}), frozenset({"grace"}))]
    written = [stores_impl.search.post_many(changes), stores_impl.search.post_many(changes)]
    # THEN each posting is one record written, as `post` of each order writes it (a term added and
    # removed at once is added), and a repeat writes the same again (idempotent both ways)
    assert written == [4, 4]
    assert [stores_impl.search.post(*c) for c in changes] == [1, 2, 1]
