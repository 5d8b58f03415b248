"""The search index behind `q` of GET /orders, kept right when what it covers changes.

What `q` matches is `domain.search`; the index itself is `adapters.store.search`: a search
document per order (written with the order, removed with it) from whose stream records the
postings follow (`projections.search`, which also follows a changed domain of an item).

* `reindex_client` — every order of a client takes the client's words as they are now, at once
  (the stream does the same by itself when a client record's words change:
  `projections.search.client_changed`; this is for a repair or a test).
* `backfill` — search documents for orders written before the index existed."""

from __future__ import annotations

from ..domain import search
from ..domain.statuses import OrderStatus
from .ports import stores


def reindex_client(client_id: str) -> int:
    """Give every order of the client the client's words as stored now (NotFound: no such
    client); the number of orders whose words changed. Idempotent, so a retry is harmless; the
    postings follow through the table's stream (about a second in AWS)."""
    data = stores()
    client = data.clients.get_client(client_id)
    return data.search.set_client_terms(client.id, search.client_terms(client.name, client.email, client.company))


def backfill(batch: int = 100) -> int:
    """A search document for every order that has none (a table from before the index, or a
    restore); the number written. Idempotent."""
    data = stores()
    written = 0
    for status in OrderStatus:
        pending = []
        for order in data.orders.iter_orders(status):
            pending.append(order)
            if len(pending) >= batch:
                written += _backfill(pending)
                pending = []
        written += _backfill(pending)
    return written


def _backfill(orders: list) -> int:  # type: ignore[type-arg]
    data = stores()
    written = 0
    for order in data.search.iter_docs_missing(orders):
        full = data.orders.get_order(order.id)
        written += data.search.put_doc_if_missing(full, full.items)
    return written
