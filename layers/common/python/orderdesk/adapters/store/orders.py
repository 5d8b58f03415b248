"""Orders: create, read (one Query for the whole detail), list and filter, delete.

Which index serves which filter of GET /orders (see `OrderReads.list_orders`):

* `number`        — the order-number guard record (GetItem), then the order's own partition.
* `client_id`     — `by_client` (one partition, newest first).
* `attention`     — `by_attention` (sparse: only orders needing attention), every shard.
* `status`        — `by_status`, every write shard queried in parallel, merged newest first.
* none of those   — `by_all`, every write shard in parallel.
* `placed_from`/`placed_to` — the sort key of whichever index (`<placed_at>#<id>`): a key condition.
* everything else — a FilterExpression on the same read; pages are filled by reading on until
  `limit` match.

Changes of an existing order are written by `order_writes`, never here."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.condition import Condition

from ...domain.activity import ActivityEntry
from ...domain.errors import ConcurrentUpdate, OrderNotFound
from ...domain.model import HistoryEntry, Invoice, Note, Order, OrderItem
from ...domain.queries import OrderFilter, OrderPage
from ...domain.statuses import OrderStatus
from . import keys, mappers
from . import records as r
from .activity import entry_op
from .table import condition_failed, transaction, translated

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    """Threads for reading the write shards of an index at once (built on first use)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="orderdesk-q")
        return _pool


@translated
class Orders:
    def __init__(self, shards: int) -> None:
        self.shards = shards

    # -- create, notes, delete -----------------------------------------------------------------

    def create_order(self, order: Order, items: list[OrderItem], invoice: Invoice, item_passwords: dict[str, str],
                     history: HistoryEntry, search: str) -> None:
        """Order, items, invoice, number guard and history in one transaction. Each domain's
        lookup record is written just before it (50 domain items and their lookups would not fit
        one transaction): one left by a create that then failed leads to no order, and is passed
        over by whoever reads it."""
        lookups = [rec for item in items if (rec := mappers.domain_lookup_record(order.id, item)) is not None]
        if lookups:
            with r.DomainItemRecord.batch_write() as batch:
                for rec in lookups:
                    batch.save(rec)
        try:
            with transaction() as tx:
                tx.save(mappers.order_record(order, search, self.shards), condition=r.OrderRecord.pk.does_not_exist())
                tx.save(r.OrderNumberRecord(pk=keys.order_number_pk(order.number), sk=keys.ORDER_NUMBER_SK,
                                            order_id=order.id), condition=r.OrderNumberRecord.pk.does_not_exist())
                for position, item in enumerate(items):
                    tx.save(mappers.item_record(order.id, position, item, item_passwords.get(item.id)))
                tx.save(mappers.invoice_record(invoice))
                tx.save(mappers.history_record(order.id, history))
        except TransactWriteError as exc:
            if condition_failed(exc):
                raise ConcurrentUpdate("order id or number already taken; try again") from exc
            raise

    def add_note(self, order_id: str, note: Note, history: HistoryEntry) -> None:
        try:
            with transaction() as tx:
                tx.condition_check(r.OrderRecord, keys.order_pk(order_id), keys.ORDER_SK,
                                   condition=r.OrderRecord.pk.exists())
                tx.save(r.NoteRecord(pk=keys.order_pk(order_id), sk=keys.note_sk(note.at, note.id), id=note.id,
                                     at=note.at, author=note.author, text=note.text))
                tx.save(mappers.history_record(order_id, history))
        except TransactWriteError as exc:
            if condition_failed(exc):
                raise OrderNotFound(f"order {order_id} not found", order_id=order_id) from exc
            raise

    def delete_order_children(self, order_id: str) -> int:
        """Delete every record of the order's partition but the order itself (batched), and the
        lookup record of each of its domains (before the item, so none outlives it)."""
        deleted = 0
        with r.Record.batch_write() as batch:
            for rec in r.Record.query(keys.order_pk(order_id), consistent_read=True):
                if rec.sk != keys.ORDER_SK:
                    if isinstance(rec, r.ItemRecord) and rec.domain:
                        batch.delete(r.DomainItemRecord(pk=keys.domain_pk(rec.domain),
                                                        sk=keys.domain_item_sk(order_id, rec.id)))
                    batch.delete(rec)
                    deleted += 1
        return deleted

    def delete_order_record(self, order: Order, deletion: ActivityEntry | None = None) -> None:
        """The last step of Delete: the order record and its number guard, at once, from the
        status it was read in, with the activity log's entry of the delete (`deletion`)."""
        try:
            with transaction() as tx:
                tx.delete(r.OrderRecord(pk=keys.order_pk(order.id), sk=keys.ORDER_SK),
                          condition=r.OrderRecord.status == order.status.value, add_version_condition=False)
                tx.delete(r.OrderNumberRecord(pk=keys.order_number_pk(order.number), sk=keys.ORDER_NUMBER_SK))
                if deletion is not None:
                    entry_op(deletion, self.shards)(tx)
        except TransactWriteError as exc:
            if condition_failed(exc):
                raise ConcurrentUpdate(f"order {order.id} changed meanwhile") from exc
            raise

    # -- read ----------------------------------------------------------------------------------

    def get_order(self, order_id: str, *, consistent: bool = True) -> Order:
        """The whole order (items, invoice, notes, history, actions) in one Query."""
        order_rec: r.OrderRecord | None = None
        fraud: r.FraudCheckRecord | None = None
        invoice_rec: r.InvoiceRecord | None = None
        items: list[r.ItemRecord] = []
        order = None
        notes, history, actions = [], [], []
        for rec in r.Record.query(keys.order_pk(order_id), consistent_read=consistent):
            if isinstance(rec, r.OrderRecord):
                order_rec = rec
            elif isinstance(rec, r.FraudCheckRecord):
                fraud = rec
            elif isinstance(rec, r.ItemRecord):
                items.append(rec)
            elif isinstance(rec, r.InvoiceRecord):
                invoice_rec = rec
            elif isinstance(rec, r.NoteRecord):
                notes.append(mappers.note_from(rec))
            elif isinstance(rec, r.HistoryRecord):
                history.append(mappers.history_from(rec))
            elif isinstance(rec, r.ActionRecord):
                actions.append(mappers.action_from(rec))
        if order_rec is None:
            raise OrderNotFound(f"order {order_id} not found", order_id=order_id)
        order = mappers.order_from(order_rec)
        if fraud is not None:
            order.fraud_check = mappers.fraud_from(fraud.check)
        invoice = mappers.invoice_from(invoice_rec) if invoice_rec else None
        pay = invoice.payment_status if invoice else order.payment_status
        order.items = [mappers.item_from(i, pay) for i in sorted(items, key=lambda i: int(i.position or 0))]
        order.invoice = invoice
        order.detail_loaded = True
        order.admin_notes = notes
        order.history = history  # in key order: the time of each write
        order.actions = sorted(actions, key=lambda a: a.started_at)
        return order

    def get_order_header(self, order_id: str) -> Order:
        """The order record and its fraud check (no items), strongly consistent, in one Query."""
        order: Order | None = None
        fraud: r.FraudCheckRecord | None = None
        for rec in r.Record.query(keys.order_pk(order_id), r.Record.sk.startswith(keys.ORDER_SK),
                                  consistent_read=True):
            if isinstance(rec, r.OrderRecord):
                order = mappers.order_from(rec)
            elif isinstance(rec, r.FraudCheckRecord):
                fraud = rec
        if order is None:
            raise OrderNotFound(f"order {order_id} not found", order_id=order_id)
        if fraud is not None:
            order.fraud_check = mappers.fraud_from(fraud.check)
        return order

    def item_password(self, order_id: str, item_id: str) -> str | None:
        """The encrypted password of an item, for the provisioning step only."""
        try:
            return r.ItemRecord.get(keys.order_pk(order_id), keys.item_sk(item_id), consistent_read=True).password_enc
        except DoesNotExist:
            return None

    # -- list ----------------------------------------------------------------------------------

    def list_orders(self, f: OrderFilter, limit: int, after_sort_key: str | None) -> OrderPage:
        if f.number is not None:
            return self._list_by_number(f, after_sort_key)
        if f.client_id is not None:
            index, key_attr, partitions = keys.BY_CLIENT, r.OrderRecord.gsi3sk, [
                keys.client_orders_partition(f.client_id)]
        elif f.attention:
            index, key_attr = keys.BY_ATTENTION, r.OrderRecord.gsi5sk
            partitions = [keys.attention_partition(s) for s in range(self.shards)]
        elif f.status is not None:
            index, key_attr = keys.BY_STATUS, r.OrderRecord.gsi1sk
            partitions = [keys.status_partition(f.status.value, s) for s in range(self.shards)]
        else:
            index, key_attr = keys.BY_ALL, r.OrderRecord.gsi2sk
            partitions = [keys.all_orders_partition(s) for s in range(self.shards)]

        low = f.placed_from
        high = f"{f.placed_to}#{keys.MAX_SK}" if f.placed_to is not None else None
        if after_sort_key is not None and (high is None or after_sort_key < high):
            high = after_sort_key
        key_cond: Condition | None = None
        if low is not None and high is not None:
            key_cond = key_attr.between(low, high)
        elif low is not None:
            key_cond = key_attr >= low
        elif high is not None:
            key_cond = key_attr <= high
        filt = _filter_condition(f, index=index)
        want = limit + 1

        def read(partition: str) -> list[r.OrderRecord]:
            out: list[r.OrderRecord] = []
            for rec in r.OrderRecord.query(partition, range_key_condition=key_cond, filter_condition=filt,
                                           index_name=index, scan_index_forward=False, page_size=want + 1):
                if after_sort_key is not None and keys.sort_key(rec.placed_at, rec.id) >= after_sort_key:
                    continue  # the cursor's own order (inclusive bound); never repeat it
                out.append(rec)
                if len(out) >= want:
                    break
            return out

        found = read(partitions[0]) if len(partitions) == 1 else [
            rec for part in _executor().map(read, partitions) for rec in part]
        found.sort(key=lambda rec: keys.sort_key(rec.placed_at, rec.id), reverse=True)
        page = found[:limit]
        last = keys.sort_key(page[-1].placed_at, page[-1].id) if (len(found) > limit and page) else None
        return OrderPage(orders=[mappers.order_from(rec) for rec in page], last_sort_key=last)

    def _list_by_number(self, f: OrderFilter, after_sort_key: str | None) -> OrderPage:
        if after_sort_key is not None:
            return OrderPage(orders=[], last_sort_key=None)
        try:
            guard = r.OrderNumberRecord.get(keys.order_number_pk(f.number or ""), keys.ORDER_NUMBER_SK)
        except DoesNotExist:
            return OrderPage(orders=[], last_sort_key=None)
        low = f.placed_from
        high = f"{f.placed_to}~" if f.placed_to is not None else None
        recs = [rec for rec in r.OrderRecord.query(keys.order_pk(guard.order_id), r.OrderRecord.sk == keys.ORDER_SK,
                                                   filter_condition=_filter_condition(f, index="main"))
                if (low is None or rec.placed_at >= low) and (high is None or rec.placed_at <= high)]
        return OrderPage(orders=[mappers.order_from(rec) for rec in recs], last_sort_key=None)

    def iter_orders(self, status: OrderStatus, placed_before: str | None = None) -> Iterator[Order]:
        """Every order of a status, optionally placed before a time (cleanups)."""
        cond = r.OrderRecord.gsi1sk < placed_before if placed_before else None
        for s in range(self.shards):
            for rec in r.OrderRecord.query(keys.status_partition(status.value, s), cond, index_name=keys.BY_STATUS):
                yield mappers.order_from(rec)

    def iter_locked_orders(self) -> Iterator[Order]:
        """Orders carrying a pending action (the lock sweep): the sparse LOCKED#<shard> entries of
        `by_type`, so the sweep reads only the locked orders."""
        for s in range(self.shards):
            for rec in r.OrderRecord.query(keys.locked_partition(s), index_name=keys.BY_TYPE):
                yield mappers.order_from(rec)

    # -- what fraud screening asks ---------------------------------------------------------------

    def orders_of_ip_between(self, ip_address: str, since: str, until: str, exclude_id: str) -> int:
        """Orders from one IP address placed in [since, until]."""
        filt = (r.OrderRecord.ip_address == ip_address) & (r.OrderRecord.id != exclude_id)
        key_cond = r.OrderRecord.gsi2sk.between(since, f"{until}#{keys.MAX_SK}")

        def count(partition: str) -> int:
            return sum(1 for _ in r.OrderRecord.query(partition, key_cond, filter_condition=filt,
                                                      index_name=keys.BY_ALL))

        return sum(_executor().map(count, [keys.all_orders_partition(s) for s in range(self.shards)]))

    def orders_of_client_between(self, client_id: str, since: str, until: str, exclude_id: str) -> int:
        return sum(1 for _ in r.OrderRecord.query(
            keys.client_orders_partition(client_id), r.OrderRecord.gsi3sk.between(since, f"{until}#{keys.MAX_SK}"),
            filter_condition=r.OrderRecord.id != exclude_id, index_name=keys.BY_CLIENT))

    def client_has_other_orders(self, client_id: str, exclude_id: str) -> bool:
        """Whether the client has an order besides `exclude_id`: two index items read at most."""
        return any(rec.id != exclude_id for rec in r.OrderRecord.query(
            keys.client_orders_partition(client_id), index_name=keys.BY_CLIENT, limit=2))


def _filter_condition(f: OrderFilter, *, index: str) -> Condition | None:
    conds: list[Condition] = []
    if f.status is not None and index in (keys.BY_CLIENT, keys.BY_ATTENTION, "main"):
        conds.append(r.OrderRecord.status == f.status.value)
    if f.client_id is not None and index == "main":
        conds.append(r.OrderRecord.client_id == f.client_id)
    if f.attention and index != keys.BY_ATTENTION:
        conds.append(r.OrderRecord.gsi5pk.exists())
    if f.payment_status is not None:
        conds.append(r.OrderRecord.payment_status == f.payment_status.value)
    if f.promo_code is not None:
        conds.append(r.OrderRecord.promo_code == f.promo_code)
    if f.payment_method is not None:
        conds.append(r.OrderRecord.payment_method == f.payment_method)
    if f.ip_address is not None:
        conds.append(r.OrderRecord.ip_address == f.ip_address)
    if f.affiliate_id is not None:
        conds.append(r.OrderRecord.affiliate_id == f.affiliate_id)
    if f.min_total is not None:
        conds.append(r.OrderRecord.total >= f.min_total)
    if f.max_total is not None:
        conds.append(r.OrderRecord.total <= f.max_total)
    if f.q:
        conds.append(r.OrderRecord.search.contains(f.q.lower()))
    if index == "main":
        if f.placed_from is not None:
            conds.append(r.OrderRecord.placed_at >= f.placed_from)
        if f.placed_to is not None:
            conds.append(r.OrderRecord.placed_at <= f.placed_to)
    if not conds:
        return None
    out = conds[0]
    for c in conds[1:]:
        out &= c
    return out
