"""The search index behind `q` (its layout: `keys`; what it matches: `domain.search`).

Each order has one search document holding its terms. The document is written with the order
(`doc_record`, in `Orders.create_order`'s transaction), its client terms are rewritten when the
client changes (`set_client_terms`), its domain terms when an item's domain does
(`set_domain_terms`, from the stream), and it is deleted with the order. Everything else follows
from the document's stream records (`services.projections.search`): a posting per term
(`post`) and each term once in the sorted term lists (`ensure_terms`). The list reads them in
`order_lists`."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from ...domain import search
from ...domain.model import Order, OrderItem
from ...domain.search import SearchDoc
from . import keys
from .search_records import PostingRecord, SearchDocRecord, TermRecord
from .table import client, condition_failed, table_name, translated

# Terms known to be in the term lists, per table: an order's terms are mostly its client's,
# already there, so a warm projection reads nothing to know it need not write them again.
_known: dict[str, set[str]] = {}
_known_lock = threading.Lock()
_KNOWN_MAX = 100_000


def doc_key(order_id: str, placed_at: str, shards: int) -> tuple[str, str]:
    return keys.search_doc_partition(keys.shard_of(order_id, shards)), keys.sort_key(placed_at, order_id)


def doc_record(order: Order, items: Iterable[OrderItem], shards: int) -> SearchDocRecord:
    """The search document of a new order: its client as ordered, its items' domains."""
    pk, sk = doc_key(order.id, order.placed_at, shards)
    return SearchDocRecord(
        pk=pk, sk=sk, order_id=order.id, placed_at=order.placed_at, client_id=order.client.id,
        client_terms=search.join_terms(search.client_terms(order.client.name, order.client.email,
                                                           order.client.company)),
        domain_terms=search.join_terms(search.domain_terms(i.domain for i in items)))


def doc_from(rec: SearchDocRecord) -> SearchDoc:
    return SearchDoc(order_id=rec.order_id, placed_at=rec.placed_at, client_id=rec.client_id,
                     client_terms=search.split_terms(rec.client_terms),
                     domain_terms=search.split_terms(rec.domain_terms))


@translated
class Search:
    def __init__(self, shards: int) -> None:
        self.shards = shards

    # -- documents -----------------------------------------------------------------------------

    def get_doc(self, order_id: str, placed_at: str) -> SearchDoc | None:
        try:
            return doc_from(SearchDocRecord.get(*doc_key(order_id, placed_at, self.shards), consistent_read=True))
        except DoesNotExist:
            return None

    def put_doc_if_missing(self, order: Order, items: list[OrderItem]) -> bool:
        """A search document for an order that has none (an order from before the index)."""
        try:
            doc_record(order, items, self.shards).save(condition=SearchDocRecord.pk.does_not_exist())
        except Exception as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def set_client_terms(self, client_id: str, terms: frozenset[str]) -> int:
        """Give every order of the client these client terms (their documents' stream records
        then move the postings); the number of documents changed. Idempotent: a document that
        has them already, or an order without one (gone meanwhile), is left alone."""
        stored = search.join_terms(terms)
        refs = list(self._client_orders(client_id))

        def change(ref: tuple[str, str]) -> bool:
            return self._set_terms(*ref, attribute="client_terms", stored=stored)

        if len(refs) <= 1:
            return sum(map(change, refs))
        with ThreadPoolExecutor(max_workers=min(8, len(refs)), thread_name_prefix="orderdesk-reindex") as pool:
            return sum(pool.map(change, refs))

    def set_order_client_terms(self, order_id: str, placed_at: str, terms: frozenset[str]) -> bool:
        """One order's document gets these client terms; False when it has them or has none."""
        return self._set_terms(order_id, placed_at, attribute="client_terms", stored=search.join_terms(terms))

    def set_domain_terms(self, order_id: str, placed_at: str, terms: frozenset[str]) -> bool:
        """The order's document gets these domain terms; False when it has them or has none."""
        return self._set_terms(order_id, placed_at, attribute="domain_terms", stored=search.join_terms(terms))

    def _set_terms(self, order_id: str, placed_at: str, *, attribute: str, stored: str) -> bool:
        attr = getattr(SearchDocRecord, attribute)
        pk, sk = doc_key(order_id, placed_at, self.shards)
        try:
            SearchDocRecord(pk=pk, sk=sk).update(
                actions=[attr.set(stored)],
                condition=SearchDocRecord.pk.exists() & (attr.does_not_exist() | (attr != stored)))
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def _client_orders(self, client_id: str) -> Iterator[tuple[str, str]]:
        """(order id, placed_at) of every order of a client, from by_client (two attributes)."""
        sdk, request = client(), {
            "TableName": table_name(), "IndexName": keys.BY_CLIENT, "KeyConditionExpression": "gsi3pk = :p",
            "ExpressionAttributeValues": {":p": {"S": keys.client_orders_partition(client_id)}},
            "ProjectionExpression": "id, placed_at"}
        while True:
            page = sdk.query(**request)
            for item in page.get("Items", []):
                yield item["id"]["S"], item["placed_at"]["S"]
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def order_domains(self, order_id: str) -> tuple[str, list[str]] | None:
        """When the order was placed and the domains of its items (None: the order is gone)."""
        sdk, pk = client(), {"S": keys.order_pk(order_id)}
        header = sdk.get_item(TableName=table_name(), Key={"pk": pk, "sk": {"S": keys.ORDER_SK}},
                              ConsistentRead=True, ProjectionExpression="placed_at").get("Item")
        if not header:
            return None
        request: dict[str, Any] = {
            "TableName": table_name(), "KeyConditionExpression": "pk = :pk AND begins_with(sk, :items)",
            "ExpressionAttributeValues": {":pk": pk, ":items": {"S": keys.item_sk("")}},
            "ConsistentRead": True, "ProjectionExpression": "#d", "ExpressionAttributeNames": {"#d": "domain"}}
        domains: list[str] = []
        while True:
            page = sdk.query(**request)
            domains += [item["domain"]["S"] for item in page.get("Items", []) if "S" in item.get("domain", {})]
            if "LastEvaluatedKey" not in page:
                return header["placed_at"]["S"], domains
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def iter_docs_missing(self, orders: Iterable[Order]) -> Iterator[Order]:
        """Of these orders, those without a search document."""
        batch = list(orders)
        found = {rec.order_id for rec in SearchDocRecord.batch_get(
            [doc_key(o.id, o.placed_at, self.shards) for o in batch], attributes_to_get=["pk", "sk", "kind", "order_id"])}
        yield from (o for o in batch if o.id not in found)

    # -- postings and terms (the stream's side) ---------------------------------------------

    def post(self, order_id: str, placed_at: str, add: Iterable[str], remove: Iterable[str]) -> int:
        """Add and remove the order's postings (idempotent both ways); the records written."""
        return self.post_many([(order_id, placed_at, add, remove)])

    def post_many(self, changes: Iterable[tuple[str, str, Iterable[str], Iterable[str]]]) -> int:
        """`post` for many orders (order id, placed at, terms added, terms removed) in shared
        batches of writes; the records written."""
        written = 0
        with PostingRecord.batch_write() as batch:
            for order_id, placed_at, add, remove in changes:
                sk = keys.sort_key(placed_at, order_id)
                for term in sorted(set(add)):
                    batch.save(PostingRecord(pk=keys.posting_partition(term), sk=sk))
                    written += 1
                for term in sorted(set(remove) - set(add)):
                    batch.delete(PostingRecord(pk=keys.posting_partition(term), sk=sk))
                    written += 1
        return written

    def ensure_terms(self, terms: Iterable[str]) -> int:
        """Each term in the term lists (a term never leaves them: a term whose postings are gone
        costs a query of an empty posting list, never a wrong answer); the terms written."""
        table = table_name()
        with _known_lock:
            known = _known.setdefault(table, set())
            wanted = sorted({t for t in terms if t not in known})
        if not wanted:
            return 0
        there = {rec.sk for rec in TermRecord.batch_get([(keys.term_partition(t), t) for t in wanted],
                                                         attributes_to_get=["pk", "sk", "kind"])}
        missing = [t for t in wanted if t not in there]
        with TermRecord.batch_write() as batch:
            for term in missing:
                batch.save(TermRecord(pk=keys.term_partition(term), sk=term))
        with _known_lock:
            known = _known.setdefault(table, set())
            if len(known) + len(wanted) > _KNOWN_MAX:
                known.clear()
            known.update(wanted)
        return len(missing)

    # -- reads of the list ------------------------------------------------------------------

    def terms_starting(self, word: str, limit: int) -> list[str]:
        """Up to `limit` terms that start with `word` (two characters or more), in order."""
        page = client().query(
            TableName=table_name(), KeyConditionExpression="pk = :p AND begins_with(sk, :w)",
            ExpressionAttributeValues={":p": {"S": keys.term_partition(word)}, ":w": {"S": word}},
            ProjectionExpression="sk", Limit=limit)
        return [item["sk"]["S"] for item in page.get("Items", [])]


def raw_doc(item: dict[str, Any]) -> SearchDoc:
    """A search document as a Query of the table returns it (DynamoDB JSON)."""
    return SearchDoc(order_id=item["order_id"]["S"], placed_at=item["placed_at"]["S"],
                     client_id=item["client_id"]["S"],
                     client_terms=search.split_terms(item.get("client_terms", {}).get("S")),
                     domain_terms=search.split_terms(item.get("domain_terms", {}).get("S")))
