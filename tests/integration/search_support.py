"""Helpers of the list and search tests: orders written through the data layer's own create
(the transaction the API runs) with every attribute chosen, a brute-force filter over what was
written, and reading every page of a list through the service."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from infra.local.table import create_table
from orderdesk.adapters.store import mappers
from orderdesk.config import reset_settings
from orderdesk.domain import search
from orderdesk.domain.model import (
    AffiliateRef,
    Client,
    ClientRef,
    HistoryEntry,
    Invoice,
    InvoiceLine,
    Order,
    OrderItem,
    invoice_id_for,
    new_id,
    new_order_number,
)
from orderdesk.domain.statuses import InvoiceStatus, ItemKind, ItemStatus, OrderStatus, PaymentStatus
from orderdesk.schemas import OrderQuery
from orderdesk.services import orders as order_service
from orderdesk.services.ports import stores

PAYMENT_OF_INVOICE = {PaymentStatus.PAID: InvoiceStatus.PAID, PaymentStatus.UNPAID: InvoiceStatus.UNPAID,
                      PaymentStatus.REFUNDED: InvoiceStatus.REFUNDED, PaymentStatus.CANCELLED: InvoiceStatus.CANCELLED}


@contextmanager
def fresh_table(ddb_client: Any) -> Iterator[str]:
    """A new table from template.yaml that the code uses meanwhile (for one hypothesis example)."""
    name = f"orderdesk-{uuid.uuid4().hex[:10]}"
    create_table(ddb_client, name)
    previous = os.environ.get("TABLE_NAME")
    os.environ["TABLE_NAME"] = name
    reset_settings()
    try:
        yield name
    finally:
        ddb_client.delete_table(TableName=name)
        if previous is not None:
            os.environ["TABLE_NAME"] = previous
        reset_settings()


def put_client(first: str, last: str, email: str, company: str | None) -> Client:
    client = Client(id=new_id(), first_name=first, last_name=last, email=email.lower(), country="GB",
                    company=company, created_at="2025-01-01T00:00:00Z")
    stores().clients.put_client(client)
    return client


def rewrite_client(client: Client) -> None:
    """The client record written over, as a client edit does (the stream's search projection
    then gives its orders the new words)."""
    mappers.client_record(client).save()


@dataclass
class World:
    """What was written, as a brute force sees it."""

    clients: dict[str, Client] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    domains: dict[str, dict[str, str | None]] = field(default_factory=dict)  # order id -> item id -> domain

    def add_order(self, client: Client, *, placed_at: str, status: OrderStatus = OrderStatus.PENDING,
                  payment: PaymentStatus = PaymentStatus.UNPAID, promo: str | None = None,
                  ip: str | None = None, method: str = "stripe", affiliate: AffiliateRef | None = None,
                  domains: list[str] | None = None, amounts: list[str] | None = None) -> Order:
        """An order written by `Orders.create_order` (order, items, invoice, guard, history and
        its search document, in one transaction)."""
        order_id = new_id()
        items = [OrderItem(id=new_id(), kind=ItemKind.PRODUCT, description="Hosting", billing_cycle="monthly",
                           amount=Decimal(a), status=ItemStatus.PENDING) for a in (amounts or ["10.00"])]
        items += [OrderItem(id=new_id(), kind=ItemKind.DOMAIN, description="Domain", billing_cycle="annually",
                            amount=Decimal("0.00"), status=ItemStatus.PENDING, domain=d, registration_type="register",
                            period_years=1) for d in domains or []]
        lines = [InvoiceLine(item_id=i.id, description=i.description, amount=i.amount) for i in items]
        subtotal, total = Invoice.totals(lines, Decimal(0))
        invoice = Invoice(id=invoice_id_for(order_id), client_id=client.id, order_id=order_id,
                          status=PAYMENT_OF_INVOICE[payment], lines=lines, subtotal=subtotal, discount=Decimal(0),
                          tax=Decimal(0), total=total, balance=total, currency="USD", due_date=placed_at[:10],
                          date_paid=None, payment_method=method)
        order = Order(id=order_id, number=new_order_number(), placed_at=placed_at, status=status,
                      client=ClientRef(id=client.id, name=client.name, email=client.email, company=client.company,
                                       country=client.country),
                      payment_method=method, total=total, currency="USD", invoice_id=invoice.id, promo_code=promo,
                      ip_address=ip, affiliate=affiliate, payment_status=payment, skip_fraud_check=True)
        history = HistoryEntry(at=placed_at, actor="test", action="order placed", from_=None, to=status.value)
        stores().orders.create_order(order, items, invoice, {}, history, "")
        order.items = items
        self.orders[order.id] = order
        self.clients.setdefault(client.id, client)
        self.domains[order.id] = {i.id: i.domain for i in items}
        return order

    def terms(self, order: Order) -> frozenset[str]:
        """The order's words by their definition, from the client as it is now and the order's
        domains as they are now."""
        c = self.clients[order.client.id]
        return search.client_terms(c.name, c.email, c.company) | search.domain_terms(self.domains[order.id].values())

    def expect(self, query: dict[str, str]) -> list[str]:
        """Every order the filters admit, newest first: a brute force over everything written,
        each filter compared as the API documents it (`q` by the words of `domain.search`)."""
        def placed(o: Order, value: str) -> str:
            return o.placed_at[:10] if len(value) == 10 else o.placed_at  # a day, or a timestamp as ours

        def admits(o: Order) -> bool:
            for name, value in query.items():
                if name == "status" and o.status.value != value:
                    return False
                if name == "client_id" and o.client.id != value:
                    return False
                if name == "payment_status" and o.payment_status.value != value:
                    return False
                if name == "promo_code" and (o.promo_code or "") != value.upper():
                    return False
                if name == "ip_address" and o.ip_address != value:
                    return False
                if name == "payment_method" and o.payment_method != value:
                    return False
                if name == "affiliate_id" and (o.affiliate.id if o.affiliate else None) != value:
                    return False
                if name == "number" and o.number != value:
                    return False
                if name == "min_total" and o.total < Decimal(value):
                    return False
                if name == "max_total" and o.total > Decimal(value):
                    return False
                if name == "placed_from" and placed(o, value) < value:
                    return False
                if name == "placed_to" and placed(o, value) > value:
                    return False
                if name == "q" and not search.matches(self.terms(o), search.query_words(value)):
                    return False
            return True

        chosen = [o for o in self.orders.values() if admits(o)]
        return [o.id for o in sorted(chosen, key=lambda o: (o.placed_at, o.id), reverse=True)]


def all_pages(query: dict[str, str], limit: int, max_pages: int = 500) -> tuple[list[str], list[dict[str, Any]]]:
    """Every page of a list through the service, following `next_cursor`: the ids and each page's
    shape (size, cursor, searched_to)."""
    ids: list[str] = []
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(max_pages):
        params = {**query, "limit": str(limit), **({"cursor": cursor} if cursor else {})}
        page = order_service.list_orders(OrderQuery.model_validate(params))
        ids += [o.id for o in page.orders]
        pages.append({"size": len(page.orders), "next": page.next_cursor, "searched_to": page.searched_to})
        cursor = page.next_cursor
        if not cursor:
            return ids, pages
    raise AssertionError(f"paging never ended: {query}")
