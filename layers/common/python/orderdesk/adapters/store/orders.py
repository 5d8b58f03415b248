"""Orders: create, read (one Query for the whole detail), list and filter, delete.

Listing (GET /orders: which index serves which filter, within a read budget) is `order_lists`;
the search index behind `q` is `search`. Changes of an existing order are written by
`order_writes`, never here."""

from __future__ import annotations

from collections.abc import Iterator

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from ...domain.activity import ActivityEntry
from ...domain.errors import ConcurrentUpdate, OrderNotFound
from ...domain.model import HistoryEntry, Invoice, Note, Order, OrderItem
from ...domain.queries import OrderFilter, OrderPage
from ...domain.statuses import OrderStatus
from . import keys, mappers, order_lists
from . import records as r
from .activity import entry_op
from .search import doc_key, doc_record
from .search_records import SearchDocRecord
from .table import client, condition_failed, query_records, table_name, transaction, translated


@translated
class Orders:
    def __init__(self, shards: int) -> None:
        self.shards = shards

    # -- create, notes, delete -----------------------------------------------------------------

    def create_order(self, order: Order, items: list[OrderItem], invoice: Invoice, item_passwords: dict[str, str],
                     history: HistoryEntry, search: str) -> None:
        """Order, items, invoice, number guard, history and search document in one transaction.
        Each domain's lookup record is written just before it (50 domain items and their lookups
        would not fit one transaction): one left by a create that then failed leads to no order,
        and is passed over by whoever reads it."""
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
                tx.save(doc_record(order, items, self.shards))
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
        """The last step of Delete: the order record, its number guard and its search document,
        at once, from the status it was read in, with the activity log's entry of the delete
        (`deletion`)."""
        try:
            with transaction() as tx:
                tx.delete(r.OrderRecord(pk=keys.order_pk(order.id), sk=keys.ORDER_SK),
                          condition=r.OrderRecord.status == order.status.value, add_version_condition=False)
                tx.delete(r.OrderNumberRecord(pk=keys.order_number_pk(order.number), sk=keys.ORDER_NUMBER_SK))
                pk, sk = doc_key(order.id, order.placed_at, self.shards)
                tx.delete(SearchDocRecord(pk=pk, sk=sk))  # its postings go with it (the stream)
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
        for rec in query_records(keys.order_pk(order_id), consistent=consistent):
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
        for rec in query_records(keys.order_pk(order_id), keys.ORDER_SK):
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
        """One page of GET /orders, from the index that suits its filters (`order_lists`)."""
        return order_lists.list_orders(f, limit, after_sort_key, self.shards)

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
        """Orders from one IP address placed in [since, until]: one partition of by_ip."""
        sdk, request = client(), {
            "TableName": table_name(), "IndexName": keys.BY_IP,
            "KeyConditionExpression": "ip_address = :ip AND gsi2sk BETWEEN :since AND :until",
            "ExpressionAttributeValues": {":ip": {"S": ip_address}, ":since": {"S": since},
                                          ":until": {"S": f"{until}#{keys.MAX_SK}"}}}
        count = 0
        while True:
            page = sdk.query(**request)
            count += sum(1 for item in page.get("Items", []) if item["pk"]["S"] != keys.order_pk(exclude_id))
            if "LastEvaluatedKey" not in page:
                return count
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def orders_of_client_between(self, client_id: str, since: str, until: str, exclude_id: str) -> int:
        return sum(1 for _ in r.OrderRecord.query(
            keys.client_orders_partition(client_id), r.OrderRecord.gsi3sk.between(since, f"{until}#{keys.MAX_SK}"),
            filter_condition=r.OrderRecord.id != exclude_id, index_name=keys.BY_CLIENT))

    def client_has_other_orders(self, client_id: str, exclude_id: str) -> bool:
        """Whether the client has an order besides `exclude_id`: two index items read at most."""
        return any(rec.id != exclude_id for rec in r.OrderRecord.query(
            keys.client_orders_partition(client_id), index_name=keys.BY_CLIENT, limit=2))

