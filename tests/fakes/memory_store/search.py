"""The search index in memory (`SearchStore`), with the semantics of `adapters.store.search`: a
document per order holding its words (written by `create_order` with the client as ordered and
the items' domains, deleted with the order), changed only where it exists and differs; postings
and terms as the stream's projection writes them, each write idempotent.

The list (`MemoryOrders.list_orders`) matches `q` against the documents, which is what the
DynamoDB list answers once the stream has turned them into postings (these stores have no
stream, so there is no lag to model)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator

from orderdesk.domain import search
from orderdesk.domain.model import Order, OrderItem
from orderdesk.domain.search import SearchDoc

from .state import MemoryState


def doc_of(order: Order, items: Iterable[OrderItem]) -> SearchDoc:
    """The document of a new order, as `adapters.store.search.doc_record` builds it."""
    return SearchDoc(order_id=order.id, placed_at=order.placed_at, client_id=order.client.id,
                     client_terms=search.client_terms(order.client.name, order.client.email, order.client.company),
                     domain_terms=search.domain_terms(i.domain for i in items))


class MemorySearch:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    def get_doc(self, order_id: str, placed_at: str) -> SearchDoc | None:
        with self.s.lock:
            doc = self.s.search_docs.get(order_id)
            return doc if doc is not None and doc.placed_at == placed_at else None  # frozen: no copy needed

    def put_doc_if_missing(self, order: Order, items: list[OrderItem]) -> bool:
        with self.s.lock:
            if order.id in self.s.search_docs:
                return False
            self.s.search_docs[order.id] = doc_of(order, items)
            return True

    def set_client_terms(self, client_id: str, terms: frozenset[str]) -> int:
        with self.s.lock:
            # the client's orders as by_client has them: the order records that are there
            orders = [o.id for o, _ in self.s.orders() if o.client.id == client_id]
            return sum(self._set(order_id, None, client_terms=frozenset(terms)) for order_id in orders)

    def set_order_client_terms(self, order_id: str, placed_at: str, terms: frozenset[str]) -> bool:
        with self.s.lock:
            return self._set(order_id, placed_at, client_terms=frozenset(terms))

    def set_domain_terms(self, order_id: str, placed_at: str, terms: frozenset[str]) -> bool:
        with self.s.lock:
            return self._set(order_id, placed_at, domain_terms=frozenset(terms))

    def _set(self, order_id: str, placed_at: str | None, *, client_terms: frozenset[str] | None = None,
             domain_terms: frozenset[str] | None = None) -> bool:
        doc = self.s.search_docs.get(order_id)
        if doc is None or (placed_at is not None and doc.placed_at != placed_at):
            return False  # none to change (the order is gone, or from before the index)
        changed = dataclasses.replace(doc, client_terms=doc.client_terms if client_terms is None else client_terms,
                                      domain_terms=doc.domain_terms if domain_terms is None else domain_terms)
        if changed == doc:
            return False
        self.s.search_docs[order_id] = changed
        return True

    def order_domains(self, order_id: str) -> tuple[str, list[str]] | None:
        with self.s.lock:
            p = self.s.partition(order_id)
            if p is None or p.header is None:
                return None
            return p.header.placed_at, [i.domain for i in p.items.values() if i.domain]

    def iter_docs_missing(self, orders: Iterable[Order]) -> Iterator[Order]:
        batch = list(orders)
        with self.s.lock:
            missing = [o for o in batch if o.id not in self.s.search_docs]
        yield from missing

    def post(self, order_id: str, placed_at: str, add: Iterable[str], remove: Iterable[str]) -> int:
        sort_key, added = f"{placed_at}#{order_id}", set(add)
        removed = set(remove) - added
        with self.s.lock:
            for term in added:
                self.s.postings.setdefault(term, set()).add(sort_key)
            for term in removed:
                self.s.postings.get(term, set()).discard(sort_key)
        return len(added) + len(removed)  # records written, as BatchWriteItem counts them

    def post_many(self, changes: Iterable[tuple[str, str, Iterable[str], Iterable[str]]]) -> int:
        with self.s.lock:
            return sum(self.post(*change) for change in changes)

    def ensure_terms(self, terms: Iterable[str]) -> int:
        with self.s.lock:
            new = set(terms) - self.s.terms
            self.s.terms |= new
            return len(new)
