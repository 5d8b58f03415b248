"""The one repository: every read and write of the OrderDesk table goes through here.

Domain objects in, domain objects out; pynamodb records stay inside this module and `models`.
SDK errors become domain errors (`OrderNotFound`, `TransitionNotAllowed`, `ActionInProgress`,
`ConcurrentUpdate`) raised `from` the original.

Which index serves which filter of GET /orders (see `list_orders`):

* `number`        — the order-number guard record (GetItem), then the order's own partition
                    (Query with the other filters as a FilterExpression).
* `client_id`     — `by_client` (one partition, newest first).
* `status`        — `by_status`, every write shard queried in parallel, merged newest first.
* none of those   — `by_all`, every write shard in parallel.
* `placed_from`/`placed_to` — the sort key of whichever index (`<placed_at>#<id>`): a key condition.
* everything else (`status` on the client index, `payment_status`, `promo_code`,
  `payment_method`, `ip_address`, `affiliate_id`, `min_total`, `max_total`, `q`) — a
  FilterExpression on the same read; pages are filled by reading on until `limit` match.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.connection import Connection
from pynamodb.exceptions import (
    DeleteError,
    DoesNotExist,
    PutError,
    TransactWriteError,
    UpdateError,
)
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from ..config import get_settings
from ..domain.errors import (
    ActionInProgress,
    ConcurrentUpdate,
    NotFound,
    OrderNotFound,
    TransitionNotAllowed,
)
from ..domain.model import (
    Action,
    ActionStep,
    Affiliate,
    AffiliateRef,
    BulkDecision,
    BulkFailure,
    BulkJob,
    BulkOrderState,
    Client,
    ClientRef,
    FraudCheck,
    FraudSignal,
    HistoryEntry,
    Invoice,
    InvoiceLine,
    Note,
    Order,
    OrderItem,
    PendingAction,
    Server,
    Transaction,
    iso,
    new_id,
    order_id_of_invoice,
    utcnow,
)
from ..domain.statuses import (
    ActionStatus,
    InvoiceStatus,
    ItemKind,
    ItemStatus,
    OrderStatus,
    PaymentStatus,
    payment_status_of,
)
from . import models as m

ORDER_SK = "ORDER"
FRAUD_SK = "ORDER#FRAUD"  # sorts right after ORDER_SK: the header and its fraud check in one Query
INVOICE_SK = "INVOICE"
_MAX_SK = "~"  # sorts after every character of our sort keys


def order_pk(order_id: str) -> str:
    return f"ORDER#{order_id}"


def shard_of(order_id: str, shards: int | None = None) -> int:
    n = shards or get_settings().status_shards
    return int.from_bytes(hashlib.blake2b(order_id.encode(), digest_size=4).digest(), "big") % n


def sort_key(placed_at: str, order_id: str) -> str:
    return f"{placed_at}#{order_id}"


@dataclass
class OrderFilter:
    status: OrderStatus | None = None
    client_id: str | None = None
    payment_status: PaymentStatus | None = None
    placed_from: str | None = None  # inclusive lower bound of placed_at (normalised)
    placed_to: str | None = None  # inclusive upper bound of placed_at (normalised)
    promo_code: str | None = None
    payment_method: str | None = None
    ip_address: str | None = None
    number: str | None = None
    affiliate_id: str | None = None
    min_total: Decimal | None = None
    max_total: Decimal | None = None
    q: str | None = None


@dataclass
class OrderPage:
    orders: list[Order]
    last_sort_key: str | None  # where the next page starts (exclusive); None when no more


@dataclass
class OrderChange:
    """A status change of one order, applied in one transaction with its guards."""

    to_status: OrderStatus | None = None
    item_status: ItemStatus | None = None  # every item of the order moves to this
    invoice_status: InvoiceStatus | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    set_lock: PendingAction | None = None
    clear_lock: bool = False
    set_fields: dict[str, Any] = field(default_factory=dict)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="orderdesk-q")
        return _pool


def _is_condition_failure(exc: Exception) -> bool:
    code = getattr(exc, "cause_response_code", None)
    if code == "ConditionalCheckFailedException":
        return True
    if isinstance(exc, TransactWriteError):
        reasons = exc.cancellation_reasons or []
        return any(r is not None and r.code == "ConditionalCheckFailed" for r in reasons)
    return False


def _is_transaction_conflict(exc: Exception) -> bool:
    if isinstance(exc, TransactWriteError):
        reasons = exc.cancellation_reasons or []
        return any(r is not None and r.code == "TransactionConflict" for r in reasons)
    return False


class Repository:
    """Data access for orders, items, invoices, clients, affiliates, servers and jobs."""

    def __init__(self) -> None:
        m.bind_models()
        self.settings = get_settings()

    # -- plumbing ----------------------------------------------------------------------------

    def _connection(self) -> Connection:
        return m.Record._get_connection().connection

    def transaction(self, client_request_token: str | None = None) -> TransactWrite:
        return TransactWrite(connection=self._connection(), client_request_token=client_request_token)

    # -- conversions -------------------------------------------------------------------------

    @staticmethod
    def _order_from(rec: m.OrderRecord) -> Order:
        client = rec.client or {}
        fraud = rec.fraud_check
        pending = rec.pending_action
        affiliate = rec.affiliate
        return Order(
            id=rec.id,
            number=rec.number,
            placed_at=rec.placed_at,
            status=OrderStatus(rec.status),
            client=ClientRef(
                id=rec.client_id,
                name=client.get("name", ""),
                email=client.get("email", ""),
                company=client.get("company"),
                country=client.get("country", ""),
            ),
            payment_method=rec.payment_method,
            total=rec.total,
            currency=rec.currency,
            invoice_id=rec.invoice_id,
            promo_code=rec.promo_code,
            discount=rec.discount,
            ip_address=rec.ip_address,
            affiliate=AffiliateRef(id=affiliate["id"], name=affiliate["name"]) if affiliate else None,
            notes=rec.notes,
            fraud_check=_fraud_from(fraud) if fraud else None,
            pending_action=PendingAction(**pending) if pending else None,
            payment_status=PaymentStatus(rec.payment_status),
            skip_fraud_check=bool(rec.skip_fraud_check),
            flagged_for_review=bool(rec.flagged_for_review),
            version=int(rec.version or 0),
        )

    @staticmethod
    def _item_from(rec: m.ItemRecord, payment_status: PaymentStatus) -> OrderItem:
        return OrderItem(
            id=rec.id,
            kind=ItemKind(rec.item_kind),
            description=rec.description,
            billing_cycle=rec.billing_cycle,
            amount=rec.amount,
            status=ItemStatus(rec.status),
            payment_status=payment_status,
            server_id=rec.server_id,
            username=rec.username,
            module=rec.module,
            has_password=rec.password_enc is not None,
            domain=rec.domain,
            registration_type=rec.registration_type,
            period_years=int(rec.period_years) if rec.period_years is not None else None,
            registrar=rec.registrar,
            last_error=rec.last_error,
        )

    @staticmethod
    def _invoice_from(rec: m.InvoiceRecord) -> Invoice:
        return Invoice(
            id=rec.id,
            client_id=rec.client_id,
            order_id=rec.order_id,
            status=InvoiceStatus(rec.status),
            lines=[InvoiceLine(**line) for line in rec.lines],
            subtotal=rec.subtotal,
            discount=rec.discount,
            tax=rec.tax,
            total=rec.total,
            balance=rec.balance,
            currency=rec.currency,
            due_date=rec.due_date,
            date_paid=rec.date_paid,
            payment_method=rec.payment_method,
            transactions=[Transaction(**t) for t in rec.transactions],
        )

    @staticmethod
    def _action_from(rec: m.ActionRecord) -> Action:
        return Action(
            id=rec.id,
            order_id=rec.order_id,
            type=rec.action_type,
            status=ActionStatus(rec.status),
            steps=[ActionStep(**s) for s in rec.steps],
            started_at=rec.started_at,
            finished_at=rec.finished_at,
            error=rec.error,
            actor=rec.actor,
            execution_arn=rec.execution_arn,
            params=rec.params or {},
        )

    @staticmethod
    def _client_from(rec: m.ClientRecord) -> Client:
        return Client(
            id=rec.id,
            first_name=rec.first_name,
            last_name=rec.last_name,
            email=rec.email,
            country=rec.country,
            company=rec.company,
            address=rec.address,
            phone=rec.phone,
            credit_balance=rec.credit_balance,
            created_at=rec.created_at,
        )

    # -- records built from domain objects ----------------------------------------------------

    def _order_record(self, order: Order, search: str) -> m.OrderRecord:
        shard = shard_of(order.id, self.settings.status_shards)
        sk = sort_key(order.placed_at, order.id)
        return m.OrderRecord(
            pk=order_pk(order.id),
            sk=ORDER_SK,
            gsi1pk=f"STATUS#{order.status.value}#{shard}",
            gsi1sk=sk,
            gsi2pk=f"ORDERS#{shard}",
            gsi2sk=sk,
            gsi3pk=f"CLIENT#{order.client.id}",
            gsi3sk=sk,
            id=order.id,
            number=order.number,
            placed_at=order.placed_at,
            status=order.status.value,
            client_id=order.client.id,
            client={
                "name": order.client.name,
                "email": order.client.email,
                "company": order.client.company,
                "country": order.client.country,
            },
            promo_code=order.promo_code,
            discount=order.discount,
            payment_method=order.payment_method,
            total=order.total,
            currency=order.currency,
            invoice_id=order.invoice_id,
            payment_status=order.payment_status.value,
            ip_address=order.ip_address,
            affiliate_id=order.affiliate.id if order.affiliate else None,
            affiliate={"id": order.affiliate.id, "name": order.affiliate.name} if order.affiliate else None,
            notes=order.notes,
            skip_fraud_check=order.skip_fraud_check,
            flagged_for_review=order.flagged_for_review,
            search=search,
            # the map each bulk job's decision goes into (`bulk_move`); never empty: DynamoDB
            # Local's stream renders an empty map as `{}`, which no stream deserializer reads
            bulk={"v": 1},
        )

    @staticmethod
    def _history_record(order_id: str, entry: HistoryEntry, seq: int = 0) -> m.HistoryRecord:
        return m.HistoryRecord(
            pk=order_pk(order_id),
            # at (seconds) then write time, so entries of one second keep their order
            sk=f"HIST#{entry.at}#{time.time_ns():020d}{seq:03d}{new_id()[:4]}",
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            from_status=entry.from_,
            to_status=entry.to,
            detail=entry.detail,
            execution=entry.execution,
        )

    def _stats_key(self, order_id: str) -> str:
        return f"STATS#{shard_of(order_id, self.settings.status_shards)}"

    def _count_change(self, tx: TransactWrite, order_id: str, old: OrderStatus | None, new: OrderStatus | None) -> None:
        if old == new:
            return
        actions = []
        if old is not None:
            actions.append(getattr(m.StatsRecord, old.value).add(-1))
        if new is not None:
            actions.append(getattr(m.StatsRecord, new.value).add(1))
        stats = m.StatsRecord(pk=self._stats_key(order_id), sk="ORDER_STATUS")
        tx.update(stats, actions=[*actions, m.StatsRecord.kind.set(m.StatsRecord)])

    # -- orders: create and read ---------------------------------------------------------------

    def create_order(
        self,
        order: Order,
        items: list[OrderItem],
        invoice: Invoice,
        item_passwords: dict[str, str],
        history: HistoryEntry,
        search: str,
    ) -> None:
        """Order, items, invoice, number guard, counters and history in one transaction."""
        record = self._order_record(order, search)
        try:
            with self.transaction() as tx:
                tx.save(record, condition=m.OrderRecord.pk.does_not_exist())
                tx.save(
                    m.OrderNumberRecord(pk=f"ORDERNO#{order.number}", sk="ORDERNO", order_id=order.id),
                    condition=m.OrderNumberRecord.pk.does_not_exist(),
                )
                for position, item in enumerate(items):
                    tx.save(self._item_record(order.id, position, item, item_passwords.get(item.id)))
                tx.save(self._invoice_record(invoice))
                tx.save(self._history_record(order.id, history))
                self._count_change(tx, order.id, None, order.status)
        except TransactWriteError as exc:
            if _is_condition_failure(exc):
                raise ConcurrentUpdate("order id or number already taken; try again") from exc
            raise

    def bulk_put_orders(self, orders: Iterable[tuple[Order, list[OrderItem], Invoice, HistoryEntry, str]]) -> int:
        """Load many new orders at once (demo data, benchmarks): the same records as `create_order`,
        written with BatchWriteItem (25 a request) instead of one transaction each, then the status
        counters moved by one ADD per counter shard. Unguarded: only for ids and numbers that are
        known to be fresh. Returns the number of orders written."""
        deltas: dict[str, dict[str, int]] = {}
        written = 0
        with m.Record.batch_write() as batch:
            for order, items, invoice, history, search in orders:
                record = self._order_record(order, search)
                record.version = 1  # as the conditional save of `create_order` stores it
                batch.save(record)
                batch.save(m.OrderNumberRecord(pk=f"ORDERNO#{order.number}", sk="ORDERNO", order_id=order.id))
                for position, item in enumerate(items):
                    batch.save(self._item_record(order.id, position, item, None))
                invoice_record = self._invoice_record(invoice)
                invoice_record.version = 1
                batch.save(invoice_record)
                batch.save(self._history_record(order.id, history))
                shard = deltas.setdefault(self._stats_key(order.id), {})
                shard[order.status.value] = shard.get(order.status.value, 0) + 1
                written += 1
        for key, counts in deltas.items():
            m.StatsRecord(pk=key, sk="ORDER_STATUS").update(
                actions=[*(getattr(m.StatsRecord, s).add(n) for s, n in counts.items()),
                         m.StatsRecord.kind.set(m.StatsRecord)])
        return written

    @staticmethod
    def _item_record(order_id: str, position: int, item: OrderItem, password_enc: str | None) -> m.ItemRecord:
        return m.ItemRecord(
            pk=order_pk(order_id),
            sk=f"ITEM#{item.id}",
            id=item.id,
            order_id=order_id,
            position=position,
            item_kind=item.kind.value,
            description=item.description,
            billing_cycle=item.billing_cycle,
            amount=item.amount,
            status=item.status.value,
            server_id=item.server_id,
            username=item.username,
            module=item.module,
            password_enc=password_enc,
            domain=item.domain,
            registration_type=item.registration_type,
            period_years=item.period_years,
            registrar=item.registrar,
        )

    @staticmethod
    def _invoice_record(invoice: Invoice) -> m.InvoiceRecord:
        return m.InvoiceRecord(
            pk=order_pk(invoice.order_id),
            sk=INVOICE_SK,
            id=invoice.id,
            order_id=invoice.order_id,
            client_id=invoice.client_id,
            status=invoice.status.value,
            lines=[{"item_id": li.item_id, "description": li.description, "amount": li.amount} for li in invoice.lines],
            subtotal=invoice.subtotal,
            discount=invoice.discount,
            tax=invoice.tax,
            total=invoice.total,
            balance=invoice.balance,
            currency=invoice.currency,
            due_date=invoice.due_date,
            date_paid=invoice.date_paid,
            payment_method=invoice.payment_method,
            transactions=[_txn_dict(t) for t in invoice.transactions],
        )

    def get_order(self, order_id: str, *, consistent: bool = True) -> Order:
        """The whole order (items, invoice, notes, history, actions) in one Query."""
        order_rec: m.OrderRecord | None = None
        items: list[m.ItemRecord] = []
        invoice_rec: m.InvoiceRecord | None = None
        notes: list[Note] = []
        history: list[tuple[str, HistoryEntry]] = []  # with their sort keys
        actions: list[Action] = []
        fraud: m.FraudCheckRecord | None = None
        for rec in m.Record.query(order_pk(order_id), consistent_read=consistent):
            if isinstance(rec, m.OrderRecord):
                order_rec = rec
            elif isinstance(rec, m.FraudCheckRecord):
                fraud = rec
            elif isinstance(rec, m.ItemRecord):
                items.append(rec)
            elif isinstance(rec, m.InvoiceRecord):
                invoice_rec = rec
            elif isinstance(rec, m.NoteRecord):
                notes.append(Note(id=rec.id, at=rec.at, author=rec.author, text=rec.text))
            elif isinstance(rec, m.HistoryRecord):
                history.append((rec.sk,
                    HistoryEntry(
                        at=rec.at,
                        actor=rec.actor,
                        action=rec.action,
                        from_=rec.from_status,
                        to=rec.to_status,
                        detail=rec.detail,
                        execution=rec.execution,
                    ))
                )
            elif isinstance(rec, m.ActionRecord):
                actions.append(self._action_from(rec))
        if order_rec is None:
            raise OrderNotFound(f"order {order_id} not found", order_id=order_id)
        order = self._order_from(order_rec)
        if fraud is not None:
            order.fraud_check = _fraud_from(fraud.check)
        invoice = self._invoice_from(invoice_rec) if invoice_rec else None
        pay = invoice.payment_status if invoice else order.payment_status
        order.items = [self._item_from(r, pay) for r in sorted(items, key=lambda r: int(r.position or 0))]
        order.invoice = invoice
        order.admin_notes = notes
        # bulk status changes are recorded on the order record itself (`bulk_decide`), each with
        # the write time its history records carry in their sort key
        moves = [(f"HIST#{d['a']}#{int(d.get('n', 0)):020d}", HistoryEntry(
            at=d["a"], actor=d.get("u", "bulk"), action="bulk status change", from_=d.get("f"), to=d.get("t"),
            detail=f"bulk job {job_id}")) for job_id, d in _bulk_map(order_rec).items() if "t" in d]
        order.history = [h for _, h in sorted(history + moves, key=lambda pair: pair[0])] if moves else [
            h for _, h in history]
        order.actions = sorted(actions, key=lambda a: a.started_at)
        return order

    def get_order_header(self, order_id: str) -> Order:
        """The order record and its fraud check (no items), strongly consistent, in one Query."""
        order: Order | None = None
        fraud: m.FraudCheckRecord | None = None
        for rec in m.Record.query(order_pk(order_id), m.Record.sk.startswith(ORDER_SK), consistent_read=True):
            if isinstance(rec, m.OrderRecord):
                order = self._order_from(rec)
            elif isinstance(rec, m.FraudCheckRecord):
                fraud = rec
        if order is None:
            raise OrderNotFound(f"order {order_id} not found", order_id=order_id)
        if fraud is not None:
            order.fraud_check = _fraud_from(fraud.check)
        return order

    def item_password(self, order_id: str, item_id: str) -> str | None:
        """The encrypted password of an item, for the provisioning step only."""
        try:
            rec = m.ItemRecord.get(order_pk(order_id), f"ITEM#{item_id}", consistent_read=True)
        except DoesNotExist:
            return None
        return rec.password_enc

    # -- orders: list --------------------------------------------------------------------------

    def _filter_condition(self, f: OrderFilter, *, index: str) -> Condition | None:
        conds: list[Condition] = []
        if f.status is not None and index in ("by_client", "main"):
            conds.append(m.OrderRecord.status == f.status.value)
        if f.client_id is not None and index == "main":
            conds.append(m.OrderRecord.client_id == f.client_id)
        if f.payment_status is not None:
            conds.append(m.OrderRecord.payment_status == f.payment_status.value)
        if f.promo_code is not None:
            conds.append(m.OrderRecord.promo_code == f.promo_code)
        if f.payment_method is not None:
            conds.append(m.OrderRecord.payment_method == f.payment_method)
        if f.ip_address is not None:
            conds.append(m.OrderRecord.ip_address == f.ip_address)
        if f.affiliate_id is not None:
            conds.append(m.OrderRecord.affiliate_id == f.affiliate_id)
        if f.min_total is not None:
            conds.append(m.OrderRecord.total >= f.min_total)
        if f.max_total is not None:
            conds.append(m.OrderRecord.total <= f.max_total)
        if f.q:
            conds.append(m.OrderRecord.search.contains(f.q.lower()))
        if index == "main":
            if f.placed_from is not None:
                conds.append(m.OrderRecord.placed_at >= f.placed_from)
            if f.placed_to is not None:
                conds.append(m.OrderRecord.placed_at <= f.placed_to)
        if not conds:
            return None
        out = conds[0]
        for c in conds[1:]:
            out &= c
        return out

    def list_orders(self, f: OrderFilter, limit: int, after_sort_key: str | None) -> OrderPage:
        if f.number is not None:
            return self._list_by_number(f, after_sort_key)
        if f.client_id is not None:
            index, key_attr, partitions = "by_client", m.OrderRecord.gsi3sk, [f"CLIENT#{f.client_id}"]
        elif f.status is not None:
            index, key_attr = "by_status", m.OrderRecord.gsi1sk
            partitions = [f"STATUS#{f.status.value}#{s}" for s in range(self.settings.status_shards)]
        else:
            index, key_attr = "by_all", m.OrderRecord.gsi2sk
            partitions = [f"ORDERS#{s}" for s in range(self.settings.status_shards)]

        low = f.placed_from
        high = f"{f.placed_to}#{_MAX_SK}" if f.placed_to is not None else None
        if after_sort_key is not None and (high is None or after_sort_key < high):
            high = after_sort_key
        if low is not None and high is not None:
            key_cond: Condition | None = key_attr.between(low, high)
        elif low is not None:
            key_cond = key_attr >= low
        elif high is not None:
            key_cond = key_attr <= high
        else:
            key_cond = None
        filt = self._filter_condition(f, index=index)
        want = limit + 1

        def read(partition: str) -> list[m.OrderRecord]:
            out: list[m.OrderRecord] = []
            results = m.OrderRecord.query(
                partition,
                range_key_condition=key_cond,
                filter_condition=filt,
                index_name=index,
                scan_index_forward=False,
                page_size=want + 1,
            )
            for rec in results:
                key = sort_key(rec.placed_at, rec.id)
                if after_sort_key is not None and key >= after_sort_key:
                    continue  # the cursor's own order (inclusive bound); never repeat it
                out.append(rec)
                if len(out) >= want:
                    break
            return out

        if len(partitions) == 1:
            found = read(partitions[0])
        else:
            found = [r for part in _executor().map(read, partitions) for r in part]
        found.sort(key=lambda r: sort_key(r.placed_at, r.id), reverse=True)
        page = found[:limit]
        more = len(found) > limit
        last = sort_key(page[-1].placed_at, page[-1].id) if (more and page) else None
        return OrderPage(orders=[self._order_from(r) for r in page], last_sort_key=last)

    def _list_by_number(self, f: OrderFilter, after_sort_key: str | None) -> OrderPage:
        if after_sort_key is not None:
            return OrderPage(orders=[], last_sort_key=None)
        try:
            guard = m.OrderNumberRecord.get(f"ORDERNO#{f.number}", "ORDERNO")
        except DoesNotExist:
            return OrderPage(orders=[], last_sort_key=None)
        low = f.placed_from
        high = f"{f.placed_to}~" if f.placed_to is not None else None
        filt = self._filter_condition(f, index="main")
        recs = list(
            m.OrderRecord.query(order_pk(guard.order_id), m.OrderRecord.sk == ORDER_SK, filter_condition=filt)
        )
        recs = [r for r in recs if (low is None or r.placed_at >= low) and (high is None or r.placed_at <= high)]
        return OrderPage(orders=[self._order_from(r) for r in recs], last_sort_key=None)

    def status_counts(self) -> dict[OrderStatus, int]:
        keys = [(f"STATS#{s}", "ORDER_STATUS") for s in range(self.settings.status_shards)]
        counts = {s: 0 for s in OrderStatus}
        for rec in m.StatsRecord.batch_get(keys):
            for status in OrderStatus:
                counts[status] += int(getattr(rec, status.value) or 0)
        return counts

    def orders_of_ip_since(self, ip_address: str, since: str, exclude_id: str) -> int:
        """Orders from one IP address placed since a time (fraud screening)."""
        filt = (m.OrderRecord.ip_address == ip_address) & (m.OrderRecord.id != exclude_id)
        low = since

        def count(partition: str) -> int:
            return sum(
                1
                for _ in m.OrderRecord.query(
                    partition, m.OrderRecord.gsi2sk >= low, filter_condition=filt, index_name="by_all"
                )
            )

        parts = [f"ORDERS#{s}" for s in range(self.settings.status_shards)]
        return sum(_executor().map(count, parts))

    def orders_of_client_since(self, client_id: str, since: str, exclude_id: str) -> int:
        return sum(
            1
            for _ in m.OrderRecord.query(
                f"CLIENT#{client_id}",
                m.OrderRecord.gsi3sk >= since,
                filter_condition=m.OrderRecord.id != exclude_id,
                index_name="by_client",
            )
        )

    def client_has_other_orders(self, client_id: str, exclude_id: str) -> bool:
        """Whether the client has an order besides `exclude_id`: two index items read at most."""
        return any(rec.id != exclude_id
                   for rec in m.OrderRecord.query(f"CLIENT#{client_id}", index_name="by_client", limit=2))

    def iter_orders(self, status: OrderStatus, placed_before: str | None = None) -> Iterator[Order]:
        """Every order of a status, optionally placed before a time (cleanups)."""
        cond = m.OrderRecord.gsi1sk < placed_before if placed_before else None
        for s in range(self.settings.status_shards):
            for rec in m.OrderRecord.query(f"STATUS#{status.value}#{s}", cond, index_name="by_status"):
                yield self._order_from(rec)

    def iter_locked_orders(self) -> Iterator[Order]:
        """Orders carrying a pending action (the lock sweep): the sparse LOCKED#<shard> entries of
        `by_type`, so the sweep reads only the locked orders."""
        for s in range(self.settings.status_shards):
            for rec in m.OrderRecord.query(f"LOCKED#{s}", index_name="by_type"):
                yield self._order_from(rec)

    def _lock_actions(self, order_id: str, lock: PendingAction | None) -> list[Any]:
        """Set (or remove) the pending action with its sparse `by_type` entry, together."""
        if lock is None:
            return [m.OrderRecord.pending_action.remove(), m.OrderRecord.gsi4pk.remove(),
                    m.OrderRecord.gsi4sk.remove()]
        return [m.OrderRecord.pending_action.set(_pending_dict(lock)),
                m.OrderRecord.gsi4pk.set(f"LOCKED#{shard_of(order_id, self.settings.status_shards)}"),
                m.OrderRecord.gsi4sk.set(f"{lock.started_at}#{order_id}")]

    # -- orders: changes -----------------------------------------------------------------------

    def _raise_for_order_guard(self, order_id: str, exc: Exception) -> None:
        """A conditional write on an order failed: say why, from its current state."""
        try:
            current = self.get_order_header(order_id)
        except OrderNotFound:
            raise
        if current.pending_action is not None:
            raise ActionInProgress.held_by(order_id, current.pending_action) from exc
        raise ConcurrentUpdate(f"order {order_id} changed meanwhile; try again") from exc

    def change_order(
        self,
        order: Order,
        change: OrderChange,
        *,
        lock_action_id: str | None = None,
        extra: Iterable[Any] = (),
    ) -> None:
        """Apply `change` to `order` as read (status and version guarded) in one transaction.

        `lock_action_id`: the change belongs to that running action (the order must carry its
        lock); otherwise the order must carry no lock. `extra` are callables `fn(tx)` adding more
        operations (bulk outcome records, job counters) to the same transaction."""
        rec = m.OrderRecord(pk=order_pk(order.id), sk=ORDER_SK)
        rec.version = order.version
        actions: list[Any] = []
        shard = shard_of(order.id, self.settings.status_shards)
        new_status = change.to_status or order.status
        if change.to_status is not None and change.to_status != order.status:
            actions += [
                m.OrderRecord.status.set(change.to_status.value),
                m.OrderRecord.gsi1pk.set(f"STATUS#{change.to_status.value}#{shard}"),
            ]
        if change.invoice_status is not None:
            actions.append(m.OrderRecord.payment_status.set(payment_status_of(change.invoice_status).value))
        if change.set_lock is not None:
            actions += self._lock_actions(order.id, change.set_lock)
        elif change.clear_lock:
            actions += self._lock_actions(order.id, None)
        fraud_check: dict[str, Any] | None = change.set_fields.get("fraud_check")
        for name, value in change.set_fields.items():
            if name == "fraud_check":
                continue  # a record of its own (FRAUD_SK), written below
            attr = getattr(m.OrderRecord, name)
            actions.append(attr.remove() if value is None else attr.set(value))
        condition: Condition = (m.OrderRecord.status == order.status.value)
        if lock_action_id is None:
            condition &= m.OrderRecord.pending_action.does_not_exist()
        try:
            with self.transaction() as tx:
                if actions:
                    tx.update(rec, actions=actions, condition=condition)
                else:
                    tx.condition_check(m.OrderRecord, order_pk(order.id), ORDER_SK, condition=condition)
                if change.item_status is not None:
                    for item in order.items:
                        if item.status != change.item_status:
                            irec = m.ItemRecord(pk=order_pk(order.id), sk=f"ITEM#{item.id}")
                            tx.update(
                                irec,
                                actions=[m.ItemRecord.status.set(change.item_status.value)],
                                condition=m.ItemRecord.status == item.status.value,
                            )
                if change.invoice_status is not None and order.invoice is not None:
                    inv = m.InvoiceRecord(pk=order_pk(order.id), sk=INVOICE_SK)
                    tx.update(
                        inv,
                        actions=[m.InvoiceRecord.status.set(change.invoice_status.value)],
                        condition=m.InvoiceRecord.status == order.invoice.status.value,
                        add_version_condition=False,
                    )
                if fraud_check is not None:
                    tx.save(m.FraudCheckRecord(pk=order_pk(order.id), sk=FRAUD_SK, check=fraud_check))
                for seq, entry in enumerate(change.history):
                    tx.save(self._history_record(order.id, entry, seq))
                self._count_change(tx, order.id, order.status, new_status)
                for add in extra:
                    add(tx)
        except TransactWriteError as exc:
            if _is_condition_failure(exc) or _is_transaction_conflict(exc):
                self._raise_for_order_guard(order.id, exc)
            raise

    def start_action(self, order: Order, action: Action, allowed: frozenset[OrderStatus], history: HistoryEntry) -> None:
        """Take the order's lock for a workflow: status allowed, no other lock; record the action."""
        rec = m.OrderRecord(pk=order_pk(order.id), sk=ORDER_SK)
        lock = PendingAction(action_id=action.id, type=action.type, started_at=action.started_at,
                             execution_arn=action.execution_arn)
        condition = m.OrderRecord.status.is_in(*[s.value for s in allowed]) & m.OrderRecord.pending_action.does_not_exist()
        try:
            with self.transaction() as tx:
                tx.update(rec, actions=self._lock_actions(order.id, lock),
                          condition=condition, add_version_condition=False)
                if order.invoice is not None:
                    # the action was planned on this invoice (its payments are what a refund
                    # returns): a payment recorded since the read makes the start re-plan
                    tx.condition_check(m.InvoiceRecord, order_pk(order.id), INVOICE_SK,
                                       condition=(m.InvoiceRecord.balance == order.invoice.balance)
                                       & (m.InvoiceRecord.status == order.invoice.status.value))
                tx.save(self._action_record(action), condition=m.ActionRecord.pk.does_not_exist())
                tx.save(self._history_record(order.id, history))
        except TransactWriteError as exc:
            if _is_condition_failure(exc) or _is_transaction_conflict(exc):
                current = self.get_order_header(order.id)
                if current.pending_action is not None:
                    raise ActionInProgress.held_by(order.id, current.pending_action) from exc
                if current.status not in allowed:
                    raise TransitionNotAllowed(
                        f"order {order.id} is {current.status.value}", current=current.status.value
                    ) from exc
                raise ConcurrentUpdate(f"order {order.id} changed meanwhile; try again") from exc
            raise

    def set_lock_execution(self, order_id: str, action_id: str, execution_arn: str) -> None:
        """Remember which workflow execution holds the order's lock (the sweep asks it later)."""
        order = self.get_order_header(order_id)
        if order.pending_action is not None and order.pending_action.action_id == action_id:
            lock = PendingAction(**{**order.pending_action.__dict__, "execution_arn": execution_arn})
            rec = m.OrderRecord(pk=order_pk(order_id), sk=ORDER_SK)
            try:
                rec.update(
                    actions=self._lock_actions(order_id, lock),
                    condition=m.OrderRecord.pending_action.exists(),
                    add_version_condition=False,
                )
            except UpdateError as exc:
                if not _is_condition_failure(exc):
                    raise
        arec = m.ActionRecord(pk=order_pk(order_id), sk=f"ACTION#{action_id}")
        arec.update(actions=[m.ActionRecord.execution_arn.set(execution_arn)], condition=m.ActionRecord.pk.exists())

    @staticmethod
    def _action_record(action: Action) -> m.ActionRecord:
        return m.ActionRecord(
            pk=order_pk(action.order_id),
            sk=f"ACTION#{action.id}",
            id=action.id,
            order_id=action.order_id,
            action_type=action.type,
            status=action.status.value,
            steps=[s.__dict__ for s in action.steps],
            started_at=action.started_at,
            finished_at=action.finished_at,
            error=action.error,
            actor=action.actor,
            execution_arn=action.execution_arn,
            params=action.params,
        )

    def get_action(self, order_id: str, action_id: str) -> Action:
        try:
            rec = m.ActionRecord.get(order_pk(order_id), f"ACTION#{action_id}", consistent_read=True)
        except DoesNotExist as exc:
            raise NotFound(f"action {action_id} of order {order_id} not found") from exc
        return self._action_from(rec)

    # -- workflow actions: steps, item changes under an action's lock, the end of an action -----

    @staticmethod
    def _lock_held(action_id: str) -> Condition:
        """The order carries this action's lock. `pending_action` is stored as JSON, so the action
        id, quoted as JSON quotes it, occurs in it exactly when the lock is that action's."""
        return m.OrderRecord.pending_action.contains(action_id)

    def set_action_step(self, order_id: str, action_id: str, step: ActionStep) -> None:
        """Add or replace (by name) one step of an action. Parallel Map iterations write steps of
        one action, so this is a compare-and-set on the stored steps."""
        import random
        import time as _time

        for attempt in range(25):
            try:
                rec = m.ActionRecord.get(order_pk(order_id), f"ACTION#{action_id}", consistent_read=True)
            except DoesNotExist as exc:
                raise NotFound(f"action {action_id} of order {order_id} not found") from exc
            stored = rec.steps or []
            wanted = {"name": step.name, "status": step.status, "error": step.error}
            steps = [dict(s) for s in stored]
            for i, s in enumerate(steps):
                if s.get("name") == step.name:
                    if s == wanted:
                        return
                    steps[i] = wanted
                    break
            else:
                steps.append(wanted)
            try:
                rec.update(actions=[m.ActionRecord.steps.set(steps)], condition=m.ActionRecord.steps == stored)
                return
            except UpdateError as exc:
                if not _is_condition_failure(exc):
                    raise
            _time.sleep(random.uniform(0, 0.005 * 2 ** min(attempt, 6)))  # noqa: S311 - jitter
        raise ConcurrentUpdate(f"steps of action {action_id} kept changing; try again")

    def change_item(self, order_id: str, item_id: str, *, expect_status: ItemStatus, fields: dict[str, Any],
                    history: HistoryEntry | None = None, action_id: str | None = None) -> None:
        """Change one item and record why, at once: only from `expect_status` and, for a workflow
        step (`action_id`), only while the order holds that action's lock."""
        irec = m.ItemRecord(pk=order_pk(order_id), sk=f"ITEM#{item_id}")
        actions = [getattr(m.ItemRecord, k).remove() if v is None else getattr(m.ItemRecord, k).set(v)
                   for k, v in fields.items()]
        try:
            with self.transaction() as tx:
                tx.update(irec, actions=actions, condition=m.ItemRecord.status == expect_status.value)
                if action_id is not None:
                    tx.condition_check(m.OrderRecord, order_pk(order_id), ORDER_SK,
                                       condition=self._lock_held(action_id))
                if history is not None:
                    tx.save(self._history_record(order_id, history))
        except TransactWriteError as exc:
            if _is_condition_failure(exc) or _is_transaction_conflict(exc):
                raise ConcurrentUpdate(f"item {item_id} or its order changed meanwhile") from exc
            raise

    def end_action(self, order: Order, change: OrderChange, action: Action) -> None:
        """The last write of a workflow: the order's change (statuses, lock released, history) and
        the action's outcome in one transaction. `order` must have been read holding the action's
        lock: its version guard then proves the lock is still the action's."""
        arec = self._action_record(action)

        def add(tx: TransactWrite) -> None:
            tx.save(arec, condition=m.ActionRecord.status == ActionStatus.RUNNING.value)

        try:
            self.change_order(order, change, lock_action_id=action.id, extra=[add])
        except ActionInProgress as exc:  # the lock is this action's own: the order changed meanwhile
            raise ConcurrentUpdate(f"order {order.id} changed meanwhile; try again") from exc

    def close_action(self, action: Action, history: HistoryEntry | None = None) -> bool:
        """Store the outcome of an action that no longer holds its order's lock; False when the
        action had already ended."""
        try:
            with self.transaction() as tx:
                tx.save(self._action_record(action), condition=m.ActionRecord.status == ActionStatus.RUNNING.value)
                if history is not None:
                    tx.save(self._history_record(action.order_id, history))
        except TransactWriteError as exc:
            if _is_condition_failure(exc):
                return False
            if _is_transaction_conflict(exc):
                raise ConcurrentUpdate(f"action {action.id} changed meanwhile; try again") from exc
            raise
        return True

    def update_item(self, order_id: str, item_id: str, *, expect_status: ItemStatus | None = None,
                    **fields: Any) -> None:
        """Set fields of one item (status, server, username, last_error, ...)."""
        rec = m.ItemRecord(pk=order_pk(order_id), sk=f"ITEM#{item_id}")
        actions = []
        for name, value in fields.items():
            attr = getattr(m.ItemRecord, name)
            actions.append(attr.remove() if value is None else attr.set(value))
        condition = m.ItemRecord.pk.exists()
        if expect_status is not None:
            condition &= m.ItemRecord.status == expect_status.value
        try:
            rec.update(actions=actions, condition=condition)
        except UpdateError as exc:
            if _is_condition_failure(exc):
                raise ConcurrentUpdate(f"item {item_id} changed meanwhile") from exc
            raise

    def add_history(self, order_id: str, entry: HistoryEntry) -> None:
        self._history_record(order_id, entry).save()

    def update_order_fields(self, order: Order, fields: dict[str, Any], history: HistoryEntry) -> None:
        """Non-status fields (affiliate, fraud check, review flag), version-guarded."""
        self.change_order(order, OrderChange(set_fields=fields, history=[history]),
                          lock_action_id=order.pending_action.action_id if order.pending_action else None)

    def add_note(self, order_id: str, note: Note, history: HistoryEntry) -> None:
        try:
            with self.transaction() as tx:
                tx.condition_check(m.OrderRecord, order_pk(order_id), ORDER_SK, condition=m.OrderRecord.pk.exists())
                tx.save(m.NoteRecord(pk=order_pk(order_id), sk=f"NOTE#{note.at}#{note.id}", id=note.id,
                                     at=note.at, author=note.author, text=note.text))
                tx.save(self._history_record(order_id, history))
        except TransactWriteError as exc:
            if _is_condition_failure(exc):
                raise OrderNotFound(f"order {order_id} not found") from exc
            raise

    def delete_order_children(self, order_id: str) -> int:
        """Delete every record of the order's partition but the order itself (batched)."""
        deleted = 0
        with m.Record.batch_write() as batch:
            for rec in m.Record.query(order_pk(order_id), consistent_read=True):
                if rec.sk == ORDER_SK:
                    continue
                batch.delete(rec)
                deleted += 1
        return deleted

    def delete_order_record(self, order: Order) -> None:
        """The last step of Delete: the order record, its number guard and its count, at once."""
        try:
            with self.transaction() as tx:
                tx.delete(m.OrderRecord(pk=order_pk(order.id), sk=ORDER_SK),
                          condition=m.OrderRecord.status == order.status.value, add_version_condition=False)
                tx.delete(m.OrderNumberRecord(pk=f"ORDERNO#{order.number}", sk="ORDERNO"))
                self._count_change(tx, order.id, order.status, None)
        except TransactWriteError as exc:
            if _is_condition_failure(exc):
                raise ConcurrentUpdate(f"order {order.id} changed meanwhile") from exc
            raise

    # -- invoices ------------------------------------------------------------------------------

    def get_invoice(self, invoice_id: str) -> Invoice:
        return self.get_invoice_versioned(invoice_id)[0]

    def get_invoice_versioned(self, invoice_id: str) -> tuple[Invoice, int]:
        order_id = order_id_of_invoice(invoice_id)
        if order_id is None:
            raise NotFound(f"invoice {invoice_id} not found")
        try:
            rec = m.InvoiceRecord.get(order_pk(order_id), INVOICE_SK, consistent_read=True)
        except DoesNotExist as exc:
            raise NotFound(f"invoice {invoice_id} not found") from exc
        return self._invoice_from(rec), int(rec.version or 0)

    def save_invoice(self, invoice: Invoice, version: int, history: HistoryEntry | None = None,
                     sync_order_status: bool = True, extra: Iterable[Any] = (), *,
                     order_unlocked: bool = False) -> None:
        """Write the invoice's status, balance and transactions if nobody changed it meanwhile;
        the order's payment status follows in the same transaction. `order_unlocked`: only while
        no action holds the order (`ActionInProgress` otherwise)."""
        rec = m.InvoiceRecord(pk=order_pk(invoice.order_id), sk=INVOICE_SK)
        order_guard = m.OrderRecord.pk.exists()
        if order_unlocked:
            order_guard &= m.OrderRecord.pending_action.does_not_exist()
        rec.version = version
        try:
            with self.transaction() as tx:
                tx.update(
                    rec,
                    actions=[
                        m.InvoiceRecord.status.set(invoice.status.value),
                        m.InvoiceRecord.balance.set(invoice.balance),
                        m.InvoiceRecord.transactions.set([_txn_dict(t) for t in invoice.transactions]),
                        m.InvoiceRecord.date_paid.set(invoice.date_paid) if invoice.date_paid
                        else m.InvoiceRecord.date_paid.remove(),
                    ],
                    condition=m.InvoiceRecord.pk.exists(),
                )
                if sync_order_status:
                    orec = m.OrderRecord(pk=order_pk(invoice.order_id), sk=ORDER_SK)
                    tx.update(orec, actions=[m.OrderRecord.payment_status.set(invoice.payment_status.value)],
                              condition=order_guard, add_version_condition=False)
                elif order_unlocked:
                    tx.condition_check(m.OrderRecord, order_pk(invoice.order_id), ORDER_SK, condition=order_guard)
                if history is not None:
                    tx.save(self._history_record(invoice.order_id, history))
                for add in extra:
                    add(tx)
        except TransactWriteError as exc:
            if _is_condition_failure(exc) or _is_transaction_conflict(exc):
                if order_unlocked:
                    self._raise_for_order_guard(invoice.order_id, exc)
                raise ConcurrentUpdate(f"invoice {invoice.id} changed meanwhile; try again") from exc
            raise

    # -- clients, affiliates, servers ----------------------------------------------------------

    def put_client(self, client: Client) -> None:
        rec = m.ClientRecord(
            pk=f"CLIENT#{client.id}", sk="CLIENT", gsi4pk="CLIENT",
            gsi4sk=f"{client.last_name.lower()} {client.first_name.lower()}#{client.id}",
            id=client.id, first_name=client.first_name, last_name=client.last_name, email=client.email,
            company=client.company, country=client.country, address=client.address, phone=client.phone,
            credit_balance=client.credit_balance, created_at=client.created_at,
            search=" ".join(x.lower() for x in (client.first_name, client.last_name, client.email, client.company) if x),
        )
        try:
            rec.save(condition=m.ClientRecord.pk.does_not_exist())
        except PutError as exc:
            if _is_condition_failure(exc):
                raise ConcurrentUpdate("client id already taken") from exc
            raise

    def get_client(self, client_id: str) -> Client:
        try:
            return self._client_from(m.ClientRecord.get(f"CLIENT#{client_id}", "CLIENT"))
        except DoesNotExist as exc:
            raise NotFound(f"client {client_id} not found") from exc

    def list_clients(self, q: str | None = None, limit: int = 100) -> list[Client]:
        filt = None
        if q:
            ql = q.lower()
            # not gsi4sk: DynamoDB refuses a key of the queried index in a filter (every q was a 500);
            # the names themselves match clients written before `search` was stored
            filt = m.ClientRecord.search.contains(ql) | m.ClientRecord.email.contains(ql) | \
                m.ClientRecord.company.contains(q) | m.ClientRecord.first_name.contains(q) | \
                m.ClientRecord.last_name.contains(q)
        return [self._client_from(r) for r in m.ClientRecord.query(
            "CLIENT", filter_condition=filt, index_name="by_type", limit=limit)]

    def add_client_credit(self, client_id: str, amount: Decimal, extra_tx: TransactWrite | None = None) -> None:
        rec = m.ClientRecord(pk=f"CLIENT#{client_id}", sk="CLIENT")
        if extra_tx is not None:
            extra_tx.update(rec, actions=[m.ClientRecord.credit_balance.add(amount)], condition=m.ClientRecord.pk.exists())
            return
        rec.update(actions=[m.ClientRecord.credit_balance.add(amount)], condition=m.ClientRecord.pk.exists())

    def put_affiliate(self, affiliate: Affiliate) -> None:
        m.AffiliateRecord(
            pk=f"AFFILIATE#{affiliate.id}", sk="AFFILIATE", gsi4pk="AFFILIATE",
            gsi4sk=f"{affiliate.name.lower()}#{affiliate.id}", id=affiliate.id, name=affiliate.name,
            email=affiliate.email, created_at=affiliate.created_at,
        ).save(condition=m.AffiliateRecord.pk.does_not_exist())

    def get_affiliate(self, affiliate_id: str) -> Affiliate:
        try:
            r = m.AffiliateRecord.get(f"AFFILIATE#{affiliate_id}", "AFFILIATE")
        except DoesNotExist as exc:
            raise NotFound(f"affiliate {affiliate_id} not found") from exc
        return Affiliate(id=r.id, name=r.name, email=r.email, created_at=r.created_at)

    def list_affiliates(self) -> list[Affiliate]:
        return [Affiliate(id=r.id, name=r.name, email=r.email, created_at=r.created_at)
                for r in m.AffiliateRecord.query("AFFILIATE", index_name="by_type")]

    def put_server(self, server: Server, credentials_enc: str | None) -> None:
        m.ServerRecord(
            pk=f"SERVER#{server.id}", sk="SERVER", gsi4pk="SERVER", gsi4sk=f"{server.name.lower()}#{server.id}",
            id=server.id, name=server.name, module=server.module, hostname=server.hostname, url=server.url,
            username=server.username, credentials_enc=credentials_enc, created_at=server.created_at,
        ).save(condition=m.ServerRecord.pk.does_not_exist())

    @staticmethod
    def _server_from(r: m.ServerRecord) -> Server:
        return Server(id=r.id, name=r.name, module=r.module, hostname=r.hostname, url=r.url,
                      username=r.username, has_credentials=r.credentials_enc is not None, created_at=r.created_at)

    def get_server(self, server_id: str) -> Server:
        try:
            return self._server_from(m.ServerRecord.get(f"SERVER#{server_id}", "SERVER"))
        except DoesNotExist as exc:
            raise NotFound(f"server {server_id} not found") from exc

    def server_credentials(self, server_id: str) -> str | None:
        """Encrypted credentials of a server, for provisioning modules only."""
        try:
            return m.ServerRecord.get(f"SERVER#{server_id}", "SERVER").credentials_enc
        except DoesNotExist as exc:
            raise NotFound(f"server {server_id} not found") from exc

    def list_servers(self) -> list[Server]:
        return [self._server_from(r) for r in m.ServerRecord.query("SERVER", index_name="by_type")]

    # -- bulk jobs -----------------------------------------------------------------------------

    def create_bulk_job(self, job: BulkJob) -> None:
        m.BulkJobRecord(
            pk=f"BULKJOB#{job.id}", sk="JOB", id=job.id, status=job.status, target=job.target, total=job.total,
            succeeded=0, failed=0, created_at=job.created_at, actor=job.actor, ttl=self.ttl_at(),
        ).save(condition=m.BulkJobRecord.pk.does_not_exist())

    def get_bulk_job(self, job_id: str) -> BulkJob:
        """The job and its failures in one Query of the job's partition."""
        job: m.BulkJobRecord | None = None
        failures: list[BulkFailure] = []
        counted_failure = (m.BulkOutcomeRecord.ok == False) & m.BulkOutcomeRecord.deleting.does_not_exist()  # noqa: E712
        for rec in m.Record.query(f"BULKJOB#{job_id}", consistent_read=True,
                                  filter_condition=m.BulkJobRecord.total.exists() | counted_failure):
            if isinstance(rec, m.BulkJobRecord):
                job = rec
            elif isinstance(rec, m.BulkOutcomeRecord):
                failures.append(BulkFailure(order_id=rec.order_id, error=rec.error or "failed"))
        if job is None:
            raise NotFound(f"bulk job {job_id} not found")
        succeeded, failed, total = int(job.succeeded or 0), int(job.failed or 0), int(job.total)
        return BulkJob(
            id=job.id, target=job.target, total=total, succeeded=succeeded, failed=failed,
            status="DONE" if succeeded + failed >= total else job.status,
            created_at=job.created_at, actor=job.actor, failures=failures,
        )

    def bulk_outcome(self, job_id: str, order_id: str) -> str | None:
        """An order of a bulk delete: None (not yet counted), "ok", "failed", or "deleting" (a
        delete begun, not yet counted)."""
        try:
            rec = m.BulkOutcomeRecord.get(f"BULKJOB#{job_id}", f"OUTCOME#{order_id}", consistent_read=True)
        except DoesNotExist:
            return None
        if rec.deleting:
            return "deleting"
        return "ok" if rec.ok else "failed"

    def bulk_outcome_op(self, job_id: str, order_id: str, ok: bool, error: str | None = None, *,
                        claimed: bool = False) -> Any:
        """`fn(tx)` adding an order's outcome and the job counter it moves to a transaction. The
        outcome is written only if none exists (or, `claimed`, only over the claim of a delete),
        so a redelivered message never counts an order twice."""
        pk = f"BULKJOB#{job_id}"

        def add(tx: TransactWrite) -> None:
            if claimed:
                tx.update(m.BulkOutcomeRecord(pk=pk, sk=f"OUTCOME#{order_id}"),
                          actions=[m.BulkOutcomeRecord.ok.set(ok), m.BulkOutcomeRecord.deleting.remove(),
                                   m.BulkOutcomeRecord.error.set(error) if error else m.BulkOutcomeRecord.error.remove()],
                          condition=m.BulkOutcomeRecord.deleting == True)  # noqa: E712
            else:
                tx.save(m.BulkOutcomeRecord(pk=pk, sk=f"OUTCOME#{order_id}", order_id=order_id, ok=ok, error=error,
                                            ttl=self.ttl_at()),
                        condition=m.BulkOutcomeRecord.pk.does_not_exist())
            counter = m.BulkJobRecord.succeeded if ok else m.BulkJobRecord.failed
            tx.update(m.BulkJobRecord(pk=pk, sk="JOB"),
                      actions=[counter.add(1), m.BulkJobRecord.status.set("RUNNING")],
                      condition=m.BulkJobRecord.pk.exists())

        return add

    def record_bulk_outcome(self, job_id: str, order_id: str, ok: bool, error: str | None = None, *,
                            claimed: bool = False) -> bool:
        """Count one order's outcome on its own; False when it was already counted."""
        try:
            with self.transaction() as tx:
                self.bulk_outcome_op(job_id, order_id, ok, error, claimed=claimed)(tx)
        except TransactWriteError as exc:
            if _is_condition_failure(exc):
                return False
            if _is_transaction_conflict(exc):
                raise ConcurrentUpdate(f"bulk job {job_id} is busy; try again") from exc
            raise
        return True

    # -- bulk status changes: a decision per order on the order, a count per message on the job --

    def bulk_chunk_counted(self, job_id: str, chunk: int) -> bool:
        """Whether the job counted its message `chunk` already (strongly consistent)."""
        try:
            rec = m.BulkJobRecord.get(f"BULKJOB#{job_id}", "JOB", consistent_read=True,
                                      attributes_to_get=[m.Record.kind.attr_name, m.BulkJobRecord.chunks.attr_name])
        except DoesNotExist as exc:
            raise NotFound(f"bulk job {job_id} not found") from exc
        return chunk in (rec.chunks or set())

    def bulk_move(self, job_id: str, order_id: str, decision: BulkDecision,
                  allowed: frozenset[OrderStatus]) -> BulkDecision | BulkOrderState | None:
        """Move one order for a bulk job in one conditional UpdateItem, recording the decision on
        the order with the move: status, its index key and the version, when the order is in an
        `allowed` status, carries no lock and no decision of this job yet. Returns the decision
        as recorded (with the status it left); or, when the order could not move, the order as it
        was (the failed write returns it: no second read); None for an unknown order."""
        assert decision.to is not None
        request = _bulk_move_request(m.OrderRecord._get_connection().table_name, job_id, decision.to,
                                     tuple(sorted(s.value for s in allowed)))
        shard = shard_of(order_id, self.settings.status_shards)
        entry = {"a": {"S": decision.at}, "u": {"S": decision.actor}, "n": {"N": str(time.time_ns())},
                 "t": {"S": decision.to}}
        request = {**request, "Key": {"pk": {"S": order_pk(order_id)}, "sk": {"S": ORDER_SK}},
                   "ExpressionAttributeValues": {**request["ExpressionAttributeValues"], ":entry": {"M": entry},
                                                 ":key": {"S": f"STATUS#{decision.to}#{shard}"}}}
        applied, item = self._bulk_update(order_id, request)
        if applied:
            return replace(decision, from_=item["status"]["S"])
        return self._bulk_found(job_id, item)

    def bulk_refuse(self, job_id: str, order_id: str, decision: BulkDecision) -> BulkDecision | None:
        """Record a refusal of the job on the order, unless the job decided on it already; the
        decision on record (this one, or the one found), None when the order is gone."""
        value = {"a": decision.at, "u": decision.actor, "n": time.time_ns(), "e": decision.error or "refused"}
        table = m.OrderRecord._get_connection()
        request = table.connection.get_operation_kwargs(
            table.table_name, order_pk(order_id), ORDER_SK, actions=[m.OrderRecord.bulk[job_id].set(value)],
            condition=m.OrderRecord.pk.exists() & m.OrderRecord.bulk[job_id].does_not_exist(),
            return_values_on_condition_failure="ALL_OLD")
        applied, item = self._bulk_update(order_id, request)
        if applied:
            return decision
        found = self._bulk_found(job_id, item)
        return found.decision if found is not None else None

    def _bulk_found(self, job_id: str, item: dict[str, Any] | None) -> BulkOrderState | None:
        if item is None:
            return None
        rec = m.OrderRecord.from_raw_data(item)
        return BulkOrderState(status=OrderStatus(rec.status), locked=rec.pending_action is not None,
                              decision=_bulk_decisions(rec).get(job_id))

    def _bulk_update(self, order_id: str, request: dict[str, Any]) -> tuple[bool, Any]:
        """One UpdateItem of an order record. (True, the updated attributes as they were) when it
        applied; (False, the item as it is, or None) when its condition failed."""
        table = m.OrderRecord._get_connection()
        client = table.connection.client
        for attempt in range(2):
            try:
                return True, client.update_item(**request).get("Attributes", {})
            except client.exceptions.ConditionalCheckFailedException as exc:
                return False, exc.response.get("Item")
            except ClientError as exc:
                message = exc.response.get("Error", {}).get("Message", "")
                if attempt or "document path provided in the update expression is invalid" not in message:
                    raise
                # an order stored before orders carried the `bulk` map: give it one, then again
                table.update_item(order_pk(order_id), ORDER_SK, condition=m.OrderRecord.pk.exists(),
                                  actions=[m.OrderRecord.bulk.set(m.OrderRecord.bulk | {})])
        raise AssertionError("unreachable")

    def count_bulk_chunk(self, job_id: str, chunk: int, decisions: list[tuple[str, BulkDecision]]) -> bool:
        """Count one message of a bulk job: the refused orders' outcome records (idempotent puts,
        so the job lists them), then one conditional UpdateItem of the job's record adding the
        message's counts and its number (so a message counted already changes nothing) and its
        net change to the order counts per status. The job's last message adds those to the
        status counters (`_close_bulk_job`): the counts move once per job, not once per message.
        False when the message was counted already."""
        pk = f"BULKJOB#{job_id}"
        refused = [(order_id, d) for order_id, d in decisions if not d.moved]
        if refused:
            with m.BulkOutcomeRecord.batch_write() as batch:
                for order_id, d in refused:
                    batch.save(m.BulkOutcomeRecord(pk=pk, sk=f"OUTCOME#{order_id}", order_id=order_id, ok=False,
                                                   error=d.error, ttl=self.ttl_at()))
        counts: dict[str, int] = {}
        for _, d in decisions:
            if d.moved and d.from_ != d.to:
                for status, n in ((d.from_, -1), (d.to, 1)):
                    if status:
                        counts[status] = counts.get(status, 0) + n
        moved = len(decisions) - len(refused)
        actions: list[Any] = [m.BulkJobRecord.status.set("RUNNING"), m.BulkJobRecord.chunks.add({chunk})]
        if moved:
            actions.append(m.BulkJobRecord.succeeded.add(moved))
        if refused:
            actions.append(m.BulkJobRecord.failed.add(len(refused)))
        actions += [_job_delta(status).add(n) for status, n in counts.items() if n]
        rec = m.BulkJobRecord(pk=pk, sk="JOB")
        try:
            rec.update(actions=actions, condition=m.BulkJobRecord.pk.exists() & ~m.BulkJobRecord.chunks.contains(chunk))
        except UpdateError as exc:
            if not _is_condition_failure(exc):
                raise
            self.finish_bulk_job(job_id)  # counted before: the job's end may be what is left to do
            return False
        self._close_bulk_job(rec)
        return True

    def _close_bulk_job(self, rec: m.BulkJobRecord) -> bool:
        """Once every order of the job is counted: DONE, and the job's net change to the order
        counts added to the status counters, in one transaction that happens once. True when
        the job is done."""
        if int(rec.succeeded or 0) + int(rec.failed or 0) < int(rec.total):
            return False
        if rec.status == "DONE":
            return True
        adds = [getattr(m.StatsRecord, s.value).add(int(getattr(rec, _job_delta(s.value).attr_name) or 0))
                for s in OrderStatus if getattr(rec, _job_delta(s.value).attr_name)]
        for attempt in range(6):
            try:
                with self.transaction() as tx:
                    tx.update(m.BulkJobRecord(pk=rec.pk, sk="JOB"),
                              actions=[m.BulkJobRecord.status.set("DONE"), m.BulkJobRecord.finished_at.set(iso(utcnow()))],
                              condition=m.BulkJobRecord.status != "DONE")
                    if adds:
                        stats_key = f"STATS#{shard_of(rec.pk, self.settings.status_shards)}"
                        tx.update(m.StatsRecord(pk=stats_key, sk="ORDER_STATUS"),
                                  actions=[*adds, m.StatsRecord.kind.set(m.StatsRecord)])
                return True
            except TransactWriteError as exc:
                if _is_condition_failure(exc):
                    return True  # closed by a concurrent delivery
                if not _is_transaction_conflict(exc) or attempt == 5:
                    raise
                time.sleep(0.01 * 2**attempt)
        return True

    def claim_bulk_delete(self, job_id: str, order_id: str) -> bool:
        """Mark a bulk delete of one order as begun; False when the order already has an outcome."""
        try:
            m.BulkOutcomeRecord(pk=f"BULKJOB#{job_id}", sk=f"OUTCOME#{order_id}", order_id=order_id, ok=False,
                                deleting=True, ttl=self.ttl_at()).save(
                condition=m.BulkOutcomeRecord.pk.does_not_exist())
        except PutError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def finish_bulk_job(self, job_id: str) -> bool:
        """Close the job if every order is counted (`_close_bulk_job`); True when it is done."""
        try:
            rec = m.BulkJobRecord.get(f"BULKJOB#{job_id}", "JOB", consistent_read=True)
        except DoesNotExist as exc:
            raise NotFound(f"bulk job {job_id} not found") from exc
        return self._close_bulk_job(rec)

    # -- generic -------------------------------------------------------------------------------

    def ttl_at(self, days: int | None = None) -> datetime:
        return utcnow() + timedelta(days=days if days is not None else self.settings.record_ttl_days)


def _pending_dict(p: PendingAction) -> dict[str, Any]:
    return {"action_id": p.action_id, "type": p.type, "started_at": p.started_at, "execution_arn": p.execution_arn}


def _txn_dict(t: Transaction) -> dict[str, Any]:
    return {"id": t.id, "type": t.type, "gateway": t.gateway, "transaction_id": t.transaction_id,
            "amount": t.amount, "at": t.at, "refund_of": t.refund_of}


def _fraud_from(d: dict[str, Any]) -> FraudCheck:
    return FraudCheck(
        provider=d["provider"], score=int(d["score"]), decision=d["decision"],
        signals=[FraudSignal(**s) for s in d.get("signals", [])], checked_at=d["checked_at"], error=d.get("error"),
    )


@functools.lru_cache(maxsize=64)
def _bulk_move_request(table: str, job_id: str, to: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The UpdateItem of `Repository.bulk_move` but for the order's key, its status index key
    and the decision (":entry"): written out once per job and target, not built per order from
    pynamodb expressions (a bulk consumer's time goes to these writes; profiled)."""
    names = {"#bulk": m.OrderRecord.bulk.attr_name, "#job": job_id, "#from": _from_key(job_id),
             "#status": m.OrderRecord.status.attr_name, "#gsi1pk": m.OrderRecord.gsi1pk.attr_name,
             "#version": m.OrderRecord.version.attr_name, "#lock": m.OrderRecord.pending_action.attr_name}
    values: dict[str, Any] = {":to": {"S": to}, ":one": {"N": "1"}}
    values.update({f":s{i}": {"S": status} for i, status in enumerate(allowed)})
    return {
        "TableName": table,
        "UpdateExpression": "SET #bulk.#job = :entry, #bulk.#from = #status, #status = :to, #gsi1pk = :key "
                            "ADD #version :one",
        "ConditionExpression": f"#status IN ({', '.join(f':s{i}' for i in range(len(allowed)))}) "
                               "AND attribute_not_exists(#lock) AND attribute_not_exists(#bulk.#job)",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ReturnValues": "UPDATED_OLD",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def _job_delta(status: str) -> Any:
    """The job record's attribute holding its net change to the count of `status`."""
    return getattr(m.BulkJobRecord, f"d_{status}")


def _from_key(job_id: str) -> str:
    """The key, next to a job's decision in an order's `bulk` map, of the status the move left
    (copied from the order in the same write: no read before it)."""
    return f"{job_id}:from"


def _bulk_map(rec: m.OrderRecord) -> dict[str, dict[str, Any]]:
    """The `bulk` map of an order record: each bulk job's decision, by job id."""
    stored = rec.bulk.as_dict() if rec.bulk is not None else {}
    return {job_id: {**d, "f": stored[_from_key(job_id)]} if _from_key(job_id) in stored else d
            for job_id, d in stored.items() if isinstance(d, dict) and "a" in d}


def _bulk_decisions(rec: m.OrderRecord) -> dict[str, BulkDecision]:
    return {job_id: BulkDecision(at=d["a"], actor=d.get("u", "bulk"), from_=d.get("f"), to=d.get("t"),
                                 error=d.get("e"))
            for job_id, d in _bulk_map(rec).items()}


def fraud_dict(check: FraudCheck) -> dict[str, Any]:
    return {"provider": check.provider, "score": check.score, "decision": check.decision,
            "signals": [s.__dict__ for s in check.signals], "checked_at": check.checked_at, "error": check.error}


_repo: Repository | None = None
_repo_lock = threading.Lock()


def get_repository() -> Repository:
    """The process-wide repository, built on first use (never at import time)."""
    global _repo
    with _repo_lock:
        if _repo is None or _repo.settings is not get_settings():
            _repo = Repository()
        return _repo


__all__ = [
    "DeleteError", "OrderChange", "OrderFilter", "OrderPage", "Repository", "get_repository",
    "fraud_dict", "iso", "shard_of", "sort_key", "UTC",
]
