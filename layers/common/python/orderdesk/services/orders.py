"""Orders: add, list and filter, read, count by status, assign affiliate, notes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..domain.changes import OrderChange
from ..domain.errors import ConcurrentUpdate, NotFound, ValidationFailed
from ..domain.model import (
    AffiliateRef,
    ClientRef,
    HistoryEntry,
    Invoice,
    InvoiceLine,
    Note,
    Order,
    OrderItem,
    invoice_id_for,
    iso,
    new_id,
    new_order_number,
    utcnow,
)
from ..domain.money import ZERO, parse_money
from ..domain.queries import ATTENTION, OrderFilter
from ..domain.statuses import InvoiceStatus, ItemKind, ItemStatus, OrderStatus
from ..retry import retry_on_conflict
from . import cursor
from .ports import stores

if TYPE_CHECKING:  # annotations only: the models (and pydantic) load with the request that carries one
    from ..schemas import CreateOrderIn, OrderQuery


def create_order(cmd: CreateOrderIn, actor: str) -> Order:
    """Add New Order: the order `Pending`, its items `Pending`, an `Unpaid` invoice, at once."""
    data = stores()
    errors: dict[str, str] = {}
    try:
        client = data.clients.get_client(cmd.client_id)
    except NotFound:
        raise ValidationFailed("unknown client", {"client_id": f"no client with id {cmd.client_id}"}) from None
    affiliate = None
    if cmd.affiliate_id:
        try:
            affiliate = data.directory.get_affiliate(cmd.affiliate_id)
        except NotFound:
            errors["affiliate_id"] = f"no affiliate with id {cmd.affiliate_id}"
    servers: dict[str, str] = {}
    for i, item in enumerate(cmd.items):
        if item.server_id and item.server_id not in servers:
            try:
                servers[item.server_id] = data.directory.get_server(item.server_id).module
            except NotFound:
                errors[f"items.{i}.server_id"] = f"no server with id {item.server_id}"
    if errors:
        raise ValidationFailed("invalid order", errors)

    now = utcnow()
    order_id = new_id()
    items = [
        OrderItem(
            id=new_id(),
            kind=item.kind,
            description=item.description,
            billing_cycle=item.billing_cycle,
            amount=item.amount,
            status=ItemStatus.PENDING,
            server_id=item.server_id,
            username=item.username,
            module=item.module or (servers.get(item.server_id) if item.server_id else None),
            domain=item.domain,
            registration_type=item.registration_type,
            period_years=item.period_years,
            registrar=item.registrar,
        )
        for item in cmd.items
    ]
    lines = [InvoiceLine(item_id=it.id, description=_line_text(it), amount=it.amount) for it in items]
    discount = cmd.discount or ZERO
    subtotal, total = Invoice.totals(lines, discount)
    if discount > subtotal:
        raise ValidationFailed("invalid order", {"discount": f"must not exceed the items' sum ({subtotal})"})
    free = total == ZERO
    invoice = Invoice(
        id=invoice_id_for(order_id),
        client_id=client.id,
        order_id=order_id,
        status=InvoiceStatus.PAID if free else InvoiceStatus.UNPAID,
        lines=lines,
        subtotal=subtotal,
        discount=discount,
        tax=ZERO,
        total=total,
        balance=total,
        currency=cmd.currency,
        due_date=now.date().isoformat(),
        date_paid=iso(now) if free else None,
        payment_method=cmd.payment_method,
    )
    order = Order(
        id=order_id,
        number=new_order_number(),
        placed_at=iso(now),
        status=OrderStatus.PENDING,
        client=ClientRef(id=client.id, name=client.name, email=client.email, company=client.company,
                         country=client.country),
        payment_method=cmd.payment_method,
        total=total,
        currency=cmd.currency,
        invoice_id=invoice.id,
        promo_code=cmd.promo_code.upper() if cmd.promo_code else None,
        discount=discount,
        ip_address=cmd.ip_address,
        affiliate=AffiliateRef(id=affiliate.id, name=affiliate.name) if affiliate else None,
        notes=cmd.notes,
        payment_status=invoice.payment_status,
        skip_fraud_check=cmd.skip_fraud_check,
    )
    search = " ".join(
        x.lower() for x in [client.name, client.email, client.company or "", *(i.domain or "" for i in items)] if x
    )
    history = HistoryEntry(at=order.placed_at, actor=actor, action="order placed", from_=None,
                           to=OrderStatus.PENDING.value, detail=f"{len(items)} item(s), total {total} {cmd.currency}")
    def place() -> None:
        try:
            data.orders.create_order(order, items, invoice, {}, history, search)
        except ConcurrentUpdate:  # the random number was taken: draw another
            order.number = new_order_number()
            raise

    retry_on_conflict(place, attempts=3)
    order.items = items
    order.invoice = invoice
    order.history = [history]
    return order


def _line_text(item: OrderItem) -> str:
    if item.kind is ItemKind.DOMAIN:
        verb = "Transfer" if item.registration_type == "transfer" else "Registration"
        return f"Domain {verb} - {item.domain} - {item.period_years} year(s)"
    return f"{item.description} ({item.billing_cycle})"


def time_bound(value: str | None, *, upper: bool, field: str) -> str | None:
    """A filter date or timestamp as the `placed_at` string it compares with (UTC, Z)."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
            ts = day.replace(hour=23, minute=59, second=59) if upper else day
        else:
            ts = datetime.fromisoformat(value.replace(" ", "T"))
            if ts.tzinfo is None:
                ts = ts.replace(tzinfo=UTC)
        return iso(ts)
    except (ValueError, OverflowError) as exc:  # OverflowError: an offset that moves it past year 1 or 9999
        raise ValidationFailed("bad date", {field: "must be YYYY-MM-DD or an ISO 8601 timestamp"}) from exc


@dataclass
class OrderList:
    orders: list[Order]
    next_cursor: str | None
    searched_to: str | None = None  # the read budget ran out: looked back to here (see OrderPage)


def filter_of(query: OrderQuery) -> OrderFilter:
    """The filters of GET /orders as the data layer takes them (bounds and codes normalised)."""
    return OrderFilter(
        status=query.status,
        client_id=query.client_id,
        payment_status=query.payment_status,
        placed_from=time_bound(query.placed_from, upper=False, field="placed_from"),
        placed_to=time_bound(query.placed_to, upper=True, field="placed_to"),
        promo_code=query.promo_code.upper() if query.promo_code else None,
        payment_method=query.payment_method,
        ip_address=query.ip_address,
        number=query.number,
        affiliate_id=query.affiliate_id,
        min_total=parse_money(query.min_total) if query.min_total else None,
        max_total=parse_money(query.max_total) if query.max_total else None,
        q=query.q,
        attention=query.attention or None,
    )


def list_orders(query: OrderQuery) -> OrderList:
    f = filter_of(query)
    fp = cursor.fingerprint({k: v for k, v in f.__dict__.items()})
    after = cursor.decode(query.cursor, fp) if query.cursor else None
    page = stores().orders.list_orders(f, query.limit, after)
    return OrderList(
        orders=page.orders,
        next_cursor=cursor.encode(page.last_sort_key, fp) if page.last_sort_key else None,
        searched_to=page.searched_to,
    )


def order_status_counts() -> list[tuple[str, int]]:
    """Orders per status, then `Attention`: the orders needing attention (kept from the stream)."""
    counts = stores().counters.status_counts()
    return [(status.value, counts[status.value]) for status in OrderStatus] + [(ATTENTION, counts[ATTENTION])]


def get_order(order_id: str) -> Order:
    return stores().orders.get_order(order_id)


def set_affiliate(order_id: str, affiliate_id: str | None, actor: str) -> Order:
    data = stores()
    affiliate = None
    if affiliate_id is not None:
        try:
            affiliate = data.directory.get_affiliate(affiliate_id)
        except NotFound:
            raise ValidationFailed("unknown affiliate", {"affiliate_id": f"no affiliate with id {affiliate_id}"}) from None

    def assign() -> None:
        order = data.orders.get_order_header(order_id)
        before = order.affiliate.name if order.affiliate else None
        history = HistoryEntry(at=iso(utcnow()), actor=actor, action="affiliate assigned" if affiliate else
                               "affiliate removed", from_=before, to=affiliate.name if affiliate else None)
        ref = AffiliateRef(id=affiliate.id, name=affiliate.name) if affiliate else None
        data.writes.apply(order, OrderChange(affiliate=ref, history=[history]),
                          holder=order.pending_action.action_id if order.pending_action else None)

    retry_on_conflict(assign, attempts=3)
    return data.orders.get_order(order_id)


def add_note(order_id: str, text: str, actor: str) -> Note:
    note = Note(id=new_id(), at=iso(utcnow()), author=actor, text=text)
    history = HistoryEntry(at=note.at, actor=actor, action="note added", from_=None, to=None,
                           detail=text[:200])
    stores().orders.add_note(order_id, note, history)
    return note

