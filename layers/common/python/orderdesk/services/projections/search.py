"""The postings and term lists of the search index (`adapters.store.search`), kept from the
stream records of the orders' search documents, and an order's domain words from its items'.

* A document inserted, changed or removed: the postings of the terms it gained are added (their
  terms listed first), those of the terms it lost removed. Both are idempotent, and a document's
  stream records come in order, so a record delivered again, or a batch retried from its failed
  record on, ends where the document is.
* A new document whose client was changed between the order's placing and now (the client's
  reindex ran before the document could be found) takes the client's words as they are now.
* An item whose domain appeared, changed or went: the order's document takes the domains of its
  items as they are now (which the document's own record then turns into postings).
* A client whose name, email or company changed (whatever wrote it): every order's document of
  the client takes the client's new words (`SearchStore.set_client_terms`, idempotent), and their
  records then move the postings. A change of anything else of the client (its credit balance)
  writes nothing.

The postings trail the documents by the stream's delay: about a second in AWS (one batching
window), the poll interval locally (0.2 s); an item's domain and a client's words take two such
steps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ...domain import search
from ...domain.errors import NotFound
from ...domain.search import SearchDoc
from ..ports import stores

if TYPE_CHECKING:
    from . import StreamChange

DOC_KIND = "search_doc"
ITEM_KIND = "item"
CLIENT_KIND = "client"


def handle(change: StreamChange) -> None:
    if change.kind == DOC_KIND:
        doc_changed(_doc(change.old), _doc(change.new))
    elif change.kind == ITEM_KIND:
        item_changed(change.old, change.new)
    elif change.kind == CLIENT_KIND:
        client_changed(change.old, change.new)


def handle_many(changes: Sequence[StreamChange]) -> None:
    """Keep the index for a batch of stream records as `handle` does for each, in fewer reads and
    writes: a document's records taken together (from what its first record had posted to its
    last record's terms) and every document's postings written in shared batches; the clients of
    new documents read once each; an item inserted with its order's new document, which holds its
    domain already, reads nothing."""
    docs: dict[str, tuple[SearchDoc | None, SearchDoc | None]] = {}
    new_docs: dict[str, SearchDoc] = {}
    for change in changes:
        if change.kind == DOC_KIND:
            before, after = _doc(change.old), _doc(change.new)
            doc = after if after is not None else before
            if doc is None:
                continue
            first = docs.get(doc.order_id)
            docs[doc.order_id] = (first[0] if first is not None else before, after)
            if before is None and after is not None:
                new_docs[after.order_id] = after
    items: dict[str, None] = {}  # the orders whose items' domains changed, in order
    for change in changes:
        if change.kind == ITEM_KIND:
            order_id = _domain_changed(change.old, change.new)
            if order_id and not _placed_with(change, new_docs.get(order_id)):
                items[order_id] = None
        elif change.kind == CLIENT_KIND:
            client_changed(change.old, change.new)
    docs_changed(list(docs.values()))
    for order_id in items:
        order_domains_changed(order_id)


def _placed_with(change: StreamChange, doc: SearchDoc | None) -> bool:
    """Whether an item record is its insertion with the order's new document (in the same batch),
    which holds the item's domain already: written in one transaction with it."""
    if doc is None or change.event != "INSERT" or change.new is None:
        return False
    return search.domain_terms([change.new.get("domain")]) <= doc.domain_terms


def _doc(image: dict[str, Any] | None) -> SearchDoc | None:
    if not image or image.get("kind") != DOC_KIND:
        return None
    return SearchDoc(order_id=str(image["order_id"]), placed_at=str(image["placed_at"]),
                     client_id=str(image["client_id"]),
                     client_terms=search.split_terms(image.get("client_terms")),
                     domain_terms=search.split_terms(image.get("domain_terms")))


def doc_changed(before: SearchDoc | None, after: SearchDoc | None) -> None:
    docs_changed([(before, after)])


def docs_changed(changes: list[tuple[SearchDoc | None, SearchDoc | None]]) -> None:
    """Documents changed (each before and after): the terms they gained listed, then their
    postings moved; a new document takes its client's words as they are now."""
    index = stores().search
    gained_all: set[str] = set()
    posts: list[tuple[str, str, frozenset[str], frozenset[str]]] = []
    for before, after in changes:
        had = before.posted if before is not None else frozenset()
        if after is None:
            if before is not None:
                posts.append((before.order_id, before.placed_at, frozenset(), had))
            continue
        gained, lost = after.posted - had, had - after.posted
        gained_all |= gained
        if gained or lost:
            posts.append((after.order_id, after.placed_at, gained, lost))
    if gained_all:
        index.ensure_terms(gained_all)
    if posts:
        index.post_many(posts)
    clients: dict[str, frozenset[str] | None] = {}
    for before, after in changes:
        if before is None and after is not None:
            _client_now(after, clients)


def _client_now(doc: SearchDoc, clients: dict[str, frozenset[str] | None]) -> None:
    """A new document takes its client's words as they are now (`clients`: those read so far)."""
    data = stores()
    if doc.client_id not in clients:
        try:
            client = data.clients.get_client(doc.client_id)
            clients[doc.client_id] = search.client_terms(client.name, client.email, client.company)
        except NotFound:
            clients[doc.client_id] = None
    now = clients[doc.client_id]
    if now is not None and now != doc.client_terms:
        data.search.set_order_client_terms(doc.order_id, doc.placed_at, now)


def item_changed(old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
    order_id = _domain_changed(old, new)
    if order_id:
        order_domains_changed(order_id)


def _domain_changed(old: dict[str, Any] | None, new: dict[str, Any] | None) -> str | None:
    """The order of an item record whose domain appeared, changed or went (else None)."""
    if (old or {}).get("domain") == (new or {}).get("domain"):
        return None
    image = new if new is not None else old
    return str((image or {}).get("order_id") or "") or None


def order_domains_changed(order_id: str) -> None:
    """The order's document takes the domains of its items as they are now."""
    index = stores().search
    found = index.order_domains(order_id)
    if found is None:
        return  # the order is gone, and its document with it
    placed_at, domains = found
    doc = index.get_doc(order_id, placed_at)
    terms = search.domain_terms(domains)
    if doc is not None and doc.domain_terms != terms:
        index.set_domain_terms(order_id, placed_at, terms)


def _client_terms(image: dict[str, Any] | None) -> frozenset[str] | None:
    if not image or image.get("kind") != CLIENT_KIND:
        return None
    name = f"{image.get('first_name') or ''} {image.get('last_name') or ''}"
    return search.client_terms(name, str(image.get("email") or ""), image.get("company"))


def client_changed(old: dict[str, Any] | None, new: dict[str, Any] | None) -> int:
    """A client record written: its orders take its words when those changed; the documents
    changed. A new client has no orders yet, and a client is never deleted."""
    before, after, client_id = _client_terms(old), _client_terms(new), str((new or {}).get("id") or "")
    if before is None or after is None or before == after or not client_id:
        return 0
    return stores().search.set_client_terms(client_id, after)
