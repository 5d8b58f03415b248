"""Orders in memory: create, read, list and filter, delete (`OrderStore`), with the semantics of
`adapters.store.orders`."""

from __future__ import annotations

from collections.abc import Iterator

from orderdesk.domain import search
from orderdesk.domain.activity import ActivityEntry
from orderdesk.domain.errors import ConcurrentUpdate, OrderNotFound
from orderdesk.domain.model import DomainRegistration, HistoryEntry, Invoice, Note, Order, OrderItem, ServiceAccount
from orderdesk.domain.queries import OrderFilter, OrderPage
from orderdesk.domain.search import SearchDoc
from orderdesk.domain.statuses import ItemKind, OrderStatus, PaymentStatus

from .search import doc_of
from .state import MemoryState, Partition, clone, read_invoice, sort_key

MAX_SK = "~"  # sorts after every character of a sort key, as in the table's keys


def header_of(order: Order) -> Order:
    """What the order record keeps of an order: none of its children, no lock, no fraud check
    (that is a record of its own), version 1."""
    header = clone(order)
    header.items, header.invoice, header.history, header.admin_notes, header.actions = [], None, [], [], []
    header.fraud_check, header.pending_action, header.version = None, None, 1
    header.attention, header.detail_loaded = [], False  # attention: computed by the changes to come
    return header


def read_items(p: Partition, payment_status: PaymentStatus) -> list[OrderItem]:
    items = []
    for item_id, stored in p.items.items():
        item = clone(stored)
        item.payment_status = payment_status  # derived from the invoice, as the mappers do
        item.has_password = item_id in p.passwords
        # the account is the item's server and username, live or not as recorded
        item.account = ServiceAccount(server_id=item.server_id, username=item.username,
                                      exists=bool(p.accounts.get(item_id)))
        if item.registration is None and item.kind is ItemKind.DOMAIN:
            item.registration = DomainRegistration()
        items.append(item)
    return items


class MemoryOrders:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    # -- create, notes, delete -----------------------------------------------------------------

    def create_order(self, order: Order, items: list[OrderItem], invoice: Invoice, item_passwords: dict[str, str],
                     history: HistoryEntry, search: str) -> None:
        with self.s.lock:
            p = self.s.partition(order.id)
            if (p is not None and (p.header is not None or p.invoice is not None)) or order.number in self.s.numbers:
                raise ConcurrentUpdate("order id or number already taken; try again")
            p = self.s.partition_for_write(order.id)
            p.header, p.search = header_of(order), search
            for item in items:
                stored = clone(item)
                stored.last_error, stored.has_password, stored.registration, stored.commands = None, False, None, {}
                p.items[item.id] = stored
                p.accounts[item.id] = item.account.exists
                if item_passwords.get(item.id) is not None:
                    p.passwords[item.id] = item_passwords[item.id]
            p.invoice, p.invoice_version = clone(invoice), 1
            self.s.numbers[order.number] = order.id
            self.s.add_history(order.id, history)
            self.s.search_docs[order.id] = doc_of(order, items)  # in the same transaction

    def add_note(self, order_id: str, note: Note, history: HistoryEntry) -> None:
        with self.s.lock:
            p = self.s.partition(order_id)
            if p is None or p.header is None:
                raise OrderNotFound(f"order {order_id} not found", order_id=order_id)
            p.notes[(note.at, note.id)] = clone(note)
            self.s.add_history(order_id, history)

    def delete_order_children(self, order_id: str) -> int:
        with self.s.lock:
            p = self.s.partition(order_id)
            if p is None:
                return 0
            deleted = p.children()
            p.clear_children()
            self.s.drop_if_empty(order_id)
            return deleted

    def delete_order_record(self, order: Order, deletion: ActivityEntry | None = None) -> None:
        with self.s.lock:
            current = self.s.header(order.id)
            if current is None or current.status is not order.status:
                raise ConcurrentUpdate(f"order {order.id} changed meanwhile")
            # the activity log's entry of the delete, with it (put only where none is)
            if deletion is not None and not self.s.add_activity(deletion):
                raise ConcurrentUpdate(f"order {order.id} changed meanwhile")
            self.s.partitions[order.id].header = None
            self.s.numbers.pop(order.number, None)
            doc = self.s.search_docs.pop(order.id, None)
            if doc is not None:  # its postings go with it, as the stream's projection removes them
                for term in doc.posted:
                    self.s.postings.get(term, set()).discard(sort_key(order))
            self.s.drop_if_empty(order.id)

    # -- read ----------------------------------------------------------------------------------

    def get_order(self, order_id: str, *, consistent: bool = True) -> Order:
        with self.s.lock:
            p = self.s.partition(order_id)
            if p is None or p.header is None:
                raise OrderNotFound(f"order {order_id} not found", order_id=order_id)
            order = clone(p.header)
            order.fraud_check = clone(p.fraud)
            order.invoice = read_invoice(p)
            order.detail_loaded = True
            order.items = read_items(p, p.invoice.payment_status if p.invoice else order.payment_status)
            order.admin_notes = [clone(p.notes[k]) for k in sorted(p.notes)]
            order.history = [clone(p.history[k]) for k in sorted(p.history)]
            order.actions = sorted((clone(a) for a in p.actions.values()), key=lambda a: a.started_at)
            return order

    def get_order_header(self, order_id: str) -> Order:
        with self.s.lock:
            p = self.s.partition(order_id)
            if p is None or p.header is None:
                raise OrderNotFound(f"order {order_id} not found", order_id=order_id)
            order = clone(p.header)
            order.fraud_check = clone(p.fraud)
            return order

    def item_password(self, order_id: str, item_id: str) -> str | None:
        with self.s.lock:
            p = self.s.partition(order_id)
            return p.passwords.get(item_id) if p is not None else None

    # -- list ----------------------------------------------------------------------------------

    def list_orders(self, f: OrderFilter, limit: int, after_sort_key: str | None) -> OrderPage:
        """Newest first; `after_sort_key` (exclusive) is where the previous page ended; a list row
        is the order record alone (no fraud check: that is a record of its own)."""
        with self.s.lock:
            if f.number is not None:
                order_id = self.s.numbers.get(f.number)
                header = self.s.header(order_id) if order_id is not None and after_sort_key is None else None
                found = [header] if header is not None and matches(header, self.s.search_docs.get(header.id), f) \
                    else []
                return OrderPage(orders=[clone(o) for o in found], last_sort_key=None)
            rows = sorted((o for o, _ in self.s.orders() if matches(o, self.s.search_docs.get(o.id), f)),
                          key=sort_key, reverse=True)
            if after_sort_key is not None:
                rows = [o for o in rows if sort_key(o) < after_sort_key]
            page = rows[:limit]
            last = sort_key(page[-1]) if len(rows) > limit and page else None
            return OrderPage(orders=[clone(o) for o in page], last_sort_key=last)

    def iter_orders(self, status: OrderStatus, placed_before: str | None = None) -> Iterator[Order]:
        with self.s.lock:  # a snapshot: the caller may change orders while it iterates
            found = [clone(o) for o, _ in self.s.orders() if o.status is status
                     and (placed_before is None or sort_key(o) < placed_before)]
        yield from sorted(found, key=sort_key)

    def iter_locked_orders(self) -> Iterator[Order]:
        with self.s.lock:
            found = [clone(o) for o, _ in self.s.orders() if o.pending_action is not None]
        yield from found

    # -- what fraud screening asks ---------------------------------------------------------------

    def orders_of_ip_between(self, ip_address: str, since: str, until: str, exclude_id: str) -> int:
        with self.s.lock:
            return sum(1 for o, _ in self.s.orders() if o.ip_address == ip_address and o.id != exclude_id
                       and since <= sort_key(o) <= f"{until}#{MAX_SK}")

    def orders_of_client_between(self, client_id: str, since: str, until: str, exclude_id: str) -> int:
        with self.s.lock:
            return sum(1 for o, _ in self.s.orders() if o.client.id == client_id and o.id != exclude_id
                       and since <= sort_key(o) <= f"{until}#{MAX_SK}")

    def client_has_other_orders(self, client_id: str, exclude_id: str) -> bool:
        with self.s.lock:
            return any(o.client.id == client_id and o.id != exclude_id for o, _ in self.s.orders())


def matches(o: Order, doc: SearchDoc | None, f: OrderFilter) -> bool:
    """Every filter of GET /orders, as the DynamoDB list applies them (its index and the checks on
    what the index yields alike); `q` against the order's search document (none: not found)."""
    words = search.query_words(f.q)
    return all((
        f.status is None or o.status is f.status,
        f.client_id is None or o.client.id == f.client_id,
        f.payment_status is None or o.payment_status is f.payment_status,
        f.placed_from is None or o.placed_at >= f.placed_from,
        f.placed_to is None or o.placed_at <= f.placed_to,
        f.promo_code is None or o.promo_code == f.promo_code,
        f.payment_method is None or o.payment_method == f.payment_method,
        f.ip_address is None or o.ip_address == f.ip_address,
        f.affiliate_id is None or (o.affiliate is not None and o.affiliate.id == f.affiliate_id),
        f.min_total is None or o.total >= f.min_total,
        f.max_total is None or o.total <= f.max_total,
        not words or (doc is not None and search.matches(doc.terms, words)),
        not f.attention or bool(o.attention),
    ))
