"""GET /orders: which index serves a list, and reading it within a budget.

Every order index sorts by `<placed_at>#<order id>` (`keys.sort_key`), so each is read newest
first, `placed_from`/`placed_to` and the cursor are a key condition on it, and one cursor format
serves them all. The most selective index the filters allow serves the read (`plan`):

* `number`        — the order-number guard (GetItem), then the order itself;
* `client_id`     — by_client (one partition);
* `attention`     — by_attention (sparse: only the orders needing attention, a few by nature);
* `q`             — the posting lists of the terms its longest word starts (at most MAX_TERMS,
  found in the sorted term lists; none: nothing can match, and nothing more is read);
* `ip_address`, `affiliate_id`, `promo_code` — their sparse indexes (one partition each);
* `min_total`/`max_total` — by_total, the bands the range spans (their entries carry the total);
* `status`        — by_status, its write shards;
* `q` whose word is one character or starts more than MAX_TERMS terms — the search documents'
  shards (small records: their terms are checked before any order is read);
* `payment_method` — by_method; nothing selective — by_all, its write shards.

The partitions of the chosen index are merged newest first, each read in chunks as the merge
needs them (the first chunk of every partition at once). Each candidate then passes every other
filter (`OrderFilter.admits`; `q`'s words against the order's search document unless the
postings of its only word found it), the orders of keys-only indexes read by BatchGetItem.

A request reads at most READ_BUDGET items (index entries, orders, documents, terms). When that
runs out before the page is full, the page holds what was found, `searched_to` says how far back
it looked, and the cursor resumes the read from the last order looked at: nothing is skipped or
repeated, whatever the filters."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pynamodb.exceptions import DoesNotExist

from ...domain import search
from ...domain.model import Order
from ...domain.queries import OrderFilter, OrderPage
from ...domain.search import SearchDoc
from . import keys, mappers
from . import records as r
from .search import Search, doc_key, raw_doc
from .search_records import SearchDocRecord
from .table import client, table_name

READ_BUDGET = 2_000  # items one request may read
MAX_TERMS = 32  # posting lists one page may merge
_MAX_CHUNK = 400  # entries one Query of a partition asks for
_MAX_FETCH = 100  # candidates whose records one BatchGetItem asks for

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def executor() -> ThreadPoolExecutor:
    """Threads for reading the partitions of an index at once (built on first use)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="orderdesk-q")
        return _pool


class Budget:
    """Items a request may still read (spent from the threads reading partitions at once)."""

    def __init__(self, items: int) -> None:
        self.left = items
        self._lock = threading.Lock()

    def spend(self, items: int) -> None:
        with self._lock:
            self.left -= items


@dataclass
class Candidate:
    """An entry of the index being read: an order, or what leads to one."""

    sort_key: str
    order_id: str
    raw: dict[str, Any] | None = None  # the order record itself (indexes projecting it all)
    total: Decimal | None = None  # by_total's entries carry the total
    doc: SearchDoc | None = None  # the search documents' scan
    order: Order | None = None
    rejected: bool = False  # failed a filter before its order was read


@dataclass
class Source:
    """The index serving a list: its partitions and what its entries hold."""

    index: str | None  # None: the table itself
    hash_attr: str
    range_attr: str
    partitions: list[str]
    kind: str  # "order" (whole records), "keys", "posting" or "doc"
    covers_q: bool = False  # its candidates match `q` already

    def candidate(self, item: dict[str, Any]) -> Candidate:
        sort_key = item[self.range_attr]["S"]
        if self.kind == "order":
            return Candidate(sort_key, item["id"]["S"], raw=item)
        if self.kind == "keys":
            total = Decimal(item["total"]["N"]) if "total" in item else None
            return Candidate(sort_key, keys.order_id_of_pk(item["pk"]["S"]), total=total)
        if self.kind == "doc":
            return Candidate(sort_key, item["order_id"]["S"], doc=raw_doc(item))
        return Candidate(sort_key, keys.order_id_of(sort_key))


@dataclass
class _Partition:
    source: Source
    key: str
    low: str | None
    high: str | None
    after: str | None  # exclusive: the cursor's own entry is skipped
    items: deque[Candidate] = field(default_factory=deque)
    start: dict[str, Any] | None = None
    done: bool = False
    size: int = 0  # the last chunk asked for
    frontier: str | None = None  # the oldest sort key read so far

    def fetch(self, n: int, budget: Budget) -> None:
        src = self.source
        cond, values = "#h = :h", {":h": {"S": self.key}}
        if self.low is not None and self.high is not None:
            cond += " AND #r BETWEEN :lo AND :hi"
            values.update({":lo": {"S": self.low}, ":hi": {"S": self.high}})
        elif self.low is not None:
            cond += " AND #r >= :lo"
            values[":lo"] = {"S": self.low}
        elif self.high is not None:
            cond += " AND #r <= :hi"
            values[":hi"] = {"S": self.high}
        request: dict[str, Any] = {
            "TableName": table_name(), "KeyConditionExpression": cond, "ExpressionAttributeValues": values,
            "ExpressionAttributeNames": {"#h": src.hash_attr, **({"#r": src.range_attr} if "#r" in cond else {})},
            "ScanIndexForward": False, "Limit": n}
        if src.index is not None:
            request["IndexName"] = src.index
        if self.start is not None:
            request["ExclusiveStartKey"] = self.start
        page = client().query(**request)
        budget.spend(int(page.get("ScannedCount", len(page.get("Items", [])))))
        self.size = n
        for item in page.get("Items", []):
            found = src.candidate(item)
            self.frontier = found.sort_key
            if self.after is None or found.sort_key < self.after:
                self.items.append(found)
        self.start = page.get("LastEvaluatedKey")
        self.done = self.start is None


class _Merge:
    """The partitions of one index, newest first, each read as far as the merge needs."""

    def __init__(self, parts: list[_Partition], budget: Budget, first: int) -> None:
        self.parts = parts
        self.budget = budget
        self.reserved = 0  # of the budget, promised to reads of the candidates already taken
        self.out_of_budget = False
        self.last: str | None = None
        self._fetch(parts, first)

    def _fetch(self, parts: list[_Partition], n: int) -> None:
        if len(parts) == 1:
            parts[0].fetch(n, self.budget)
        else:
            list(executor().map(lambda p: p.fetch(n, self.budget), parts))

    def next(self) -> Candidate | None:
        while True:
            empty = [p for p in self.parts if not p.items and not p.done]
            if empty:
                n = min(max(2 * max(p.size for p in empty), 1), _MAX_CHUNK,
                        (self.budget.left - self.reserved) // len(empty))
                if n <= 0:
                    self.out_of_budget = True
                    return None
                self._fetch(empty, n)
                continue
            live = [p for p in self.parts if p.items]
            if not live:
                return None
            best = max(live, key=lambda p: p.items[0].sort_key)
            found = best.items.popleft()
            if found.sort_key == self.last:
                continue  # the same order again, under another of the query's terms
            self.last = found.sort_key
            return found

    def frontier(self) -> str | None:
        """Every entry above this has been read, in every partition (None: nothing was read)."""
        read = [p.frontier for p in self.parts if not p.done and p.frontier is not None]
        return max(read) if read else None


def list_orders(f: OrderFilter, limit: int, after: str | None, shards: int) -> OrderPage:
    budget = Budget(READ_BUDGET)
    words = search.query_words(f.q)
    if f.number is not None:
        return _by_number(f, words, after, shards)
    source = plan(f, words, budget, shards)
    if source is None or not source.partitions:  # no term, or a total range with min above max
        return OrderPage(orders=[], last_sort_key=None)
    low = f.placed_from
    high = f"{f.placed_to}#{keys.MAX_SK}" if f.placed_to is not None else None
    if after is not None and (high is None or after < high):
        high = after
    parts = [_Partition(source, key, low, high, after) for key in source.partitions]
    merge = _Merge(parts, budget, first=max(1, min(limit + 1, budget.left // len(parts))))
    needs_order = source.kind != "order"
    needs_doc = bool(words) and not source.covers_q and source.kind != "doc"
    cost = int(needs_order) + int(needs_doc)

    def early_reject(c: Candidate) -> bool:
        if c.total is not None and not ((f.min_total is None or c.total >= f.min_total)
                                        and (f.max_total is None or c.total <= f.max_total)):
            return True
        return c.doc is not None and not search.matches(c.doc.terms, words)

    found: list[Order] = []
    last: str | None = None  # the last candidate looked at: everything newer was
    out_of_budget = False
    chunk = limit + 1
    while len(found) <= limit:
        want = chunk if cost == 0 else min(chunk, budget.left // cost)
        if want <= 0:
            out_of_budget = True
            break
        pulled: list[Candidate] = []
        kept = 0
        # the records of the candidates kept are read after the pull: keep their share of the
        # budget out of the partitions' reads meanwhile
        while kept < want and budget.left - (kept + 1) * cost >= 0:
            merge.reserved = (kept + 1) * cost
            if (c := merge.next()) is None:
                break
            c.rejected = early_reject(c)
            kept += not c.rejected
            pulled.append(c)
        merge.reserved = 0
        if not pulled:
            out_of_budget = merge.out_of_budget
            break
        _fill(pulled, needs_order=needs_order, needs_doc=needs_doc, shards=shards, budget=budget)
        for c in pulled:
            last = c.sort_key
            if c.rejected or c.order is None or not f.admits(c.order):
                continue
            if needs_doc and (c.doc is None or not search.matches(c.doc.terms, words)):
                continue
            found.append(c.order)
            if len(found) > limit:
                break
        chunk = min(2 * chunk, _MAX_FETCH)

    if len(found) > limit:
        page = found[:limit]
        return OrderPage(orders=page, last_sort_key=keys.sort_key(page[-1].placed_at, page[-1].id))
    if not out_of_budget:
        return OrderPage(orders=found, last_sort_key=None)
    resume = last or merge.frontier() or after
    searched_to = resume.rsplit("#", 1)[0] if resume and len(found) < limit else None
    return OrderPage(orders=found, last_sort_key=resume, searched_to=searched_to)


def _fill(cands: list[Candidate], *, needs_order: bool, needs_doc: bool, shards: int, budget: Budget) -> None:
    """Each candidate's order (and search document): from its entry, or one BatchGetItem."""
    wanted: list[tuple[str, str]] = []
    for c in cands:
        if c.rejected:
            continue
        if c.raw is not None:
            c.order = mappers.order_from(r.OrderRecord.from_raw_data(c.raw))
        elif needs_order:
            wanted.append((keys.order_pk(c.order_id), keys.ORDER_SK))
        if needs_doc:
            wanted.append(doc_key(c.order_id, c.sort_key.rsplit("#", 1)[0], shards))
    if not wanted:
        return
    budget.spend(len(wanted))
    got: dict[tuple[str, str], Any] = {(rec.pk, rec.sk): rec for rec in r.Record.batch_get(wanted)}
    for c in cands:
        if c.rejected:
            continue
        rec = got.get((keys.order_pk(c.order_id), keys.ORDER_SK))
        if isinstance(rec, r.OrderRecord):
            c.order = mappers.order_from(rec)
        doc = got.get(doc_key(c.order_id, c.sort_key.rsplit("#", 1)[0], shards))
        if isinstance(doc, SearchDocRecord):
            c.doc = SearchDoc(order_id=doc.order_id, placed_at=doc.placed_at, client_id=doc.client_id,
                              client_terms=search.split_terms(doc.client_terms),
                              domain_terms=search.split_terms(doc.domain_terms))


def plan(f: OrderFilter, words: list[str], budget: Budget, shards: int) -> Source | None:
    """The index that serves the list (None: the query's longest word starts no term at all)."""
    def one(index: str, attr: str, value: str) -> Source:
        return Source(index, attr, "gsi2sk", [value], "keys")

    if f.client_id is not None:
        return Source(keys.BY_CLIENT, "gsi3pk", "gsi3sk", [keys.client_orders_partition(f.client_id)], "order")
    if f.attention:
        return Source(keys.BY_ATTENTION, "gsi5pk", "gsi5sk", [keys.attention_partition(s) for s in range(shards)],
                      "order")
    if words:
        word = max(words, key=len)
        if len(word) >= search.MIN_POSTED:
            terms = Search(shards).terms_starting(word, MAX_TERMS + 1)
            budget.spend(len(terms))
            if not terms:
                return None
            if len(terms) <= MAX_TERMS:
                return Source(None, "pk", "sk", [keys.posting_partition(t) for t in terms], "posting",
                              covers_q=len(words) == 1)
    chosen: list[tuple[bool, Callable[[], Source]]] = [
        (f.ip_address is not None, lambda: one(keys.BY_IP, "ip_address", f.ip_address or "")),
        (f.affiliate_id is not None, lambda: one(keys.BY_AFFILIATE, "affiliate_id", f.affiliate_id or "")),
        (f.promo_code is not None, lambda: one(keys.BY_PROMO, "promo_code", f.promo_code or "")),
        (f.min_total is not None or f.max_total is not None, lambda: Source(
            keys.BY_TOTAL, "total_band", "gsi2sk", keys.total_bands_between(f.min_total, f.max_total), "keys")),
        (f.status is not None, lambda: Source(
            keys.BY_STATUS, "gsi1pk", "gsi1sk",
            [keys.status_partition(f.status.value, s) for s in range(shards)] if f.status else [], "order")),
        (bool(words), lambda: Source(None, "pk", "sk", [keys.search_doc_partition(s) for s in range(shards)],
                                     "doc", covers_q=True)),
        (f.payment_method is not None, lambda: one(keys.BY_METHOD, "payment_method", f.payment_method or "")),
    ]
    for wanted, build in chosen:
        if wanted:
            return build()
    return Source(keys.BY_ALL, "gsi2pk", "gsi2sk", [keys.all_orders_partition(s) for s in range(shards)], "order")


def _by_number(f: OrderFilter, words: list[str], after: str | None, shards: int) -> OrderPage:
    """The order-number guard, then the order: at most one order, one page."""
    if after is not None:
        return OrderPage(orders=[], last_sort_key=None)
    try:
        guard = r.OrderNumberRecord.get(keys.order_number_pk(f.number or ""), keys.ORDER_NUMBER_SK)
        rec = r.OrderRecord.get(keys.order_pk(guard.order_id), keys.ORDER_SK)
    except DoesNotExist:
        return OrderPage(orders=[], last_sort_key=None)
    order = mappers.order_from(rec)
    if not f.admits(order):
        return OrderPage(orders=[], last_sort_key=None)
    if words:
        doc = Search(shards).get_doc(order.id, order.placed_at)
        if doc is None or not search.matches(doc.terms, words):
            return OrderPage(orders=[], last_sort_key=None)
    return OrderPage(orders=[order], last_sort_key=None)
