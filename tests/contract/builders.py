"""Orders, clients and jobs to store in the contract tests, built as the services build them."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from orderdesk.domain.changes import OrderChange
from orderdesk.domain.model import (
    Action,
    ActionStep,
    AffiliateRef,
    Client,
    ClientRef,
    HistoryEntry,
    Invoice,
    InvoiceLine,
    Order,
    OrderItem,
    ServiceAccount,
    invoice_id_for,
    new_id,
    new_order_number,
)
from orderdesk.domain.money import ZERO
from orderdesk.domain.statuses import (
    ActionStatus,
    InvoiceStatus,
    ItemKind,
    ItemStatus,
    OrderStatus,
    payment_status_of,
)
from orderdesk.services.ports import Stores

AT = "2024-05-01T10:00:00Z"
LATER = "2024-05-01T11:00:00Z"


@dataclass
class Spec:
    """An order to place; every field has a plain default."""

    status: OrderStatus = OrderStatus.PENDING
    placed_at: str = AT
    client_id: str = "client-1"
    amounts: tuple[str, ...] = ("10.00", "20.00")
    invoice_status: InvoiceStatus = InvoiceStatus.UNPAID
    promo_code: str | None = None
    payment_method: str = "manual"
    ip_address: str | None = "198.51.100.7"
    affiliate: AffiliateRef | None = None
    search: str = "ada lovelace ada@example.com"
    client_name: str = "Ada Lovelace"  # the client as ordered: what `q` finds the order by
    client_email: str = "ada@example.com"
    passwords: dict[int, str] = field(default_factory=dict)  # item position -> encrypted password
    item_status: ItemStatus = ItemStatus.PENDING
    live_account: bool = False  # the first item's account exists on its server
    domain: str | None = None  # the last item is this domain's registration


def parts(spec: Spec) -> tuple[Order, list[OrderItem], Invoice, dict[str, str], HistoryEntry]:
    order_id = new_id()
    items = [OrderItem(id=new_id(), kind=ItemKind.PRODUCT, description=f"Hosting {n}", billing_cycle="monthly",
                       amount=Decimal(a), status=spec.item_status, server_id="srv-1" if n == 0 else None,
                       username="ada" if n == 0 else None, module="webhook" if n == 0 else None,
                       account=ServiceAccount(exists=spec.live_account and n == 0))
             for n, a in enumerate(spec.amounts)]
    if spec.domain:
        items[-1].kind, items[-1].domain, items[-1].registration_type, items[-1].period_years = (
            ItemKind.DOMAIN, spec.domain, "register", 1)
        items[-1].server_id = items[-1].username = items[-1].module = None
    lines = [InvoiceLine(item_id=i.id, description=i.description, amount=i.amount) for i in items]
    subtotal, total = Invoice.totals(lines, ZERO)
    paid = spec.invoice_status is InvoiceStatus.PAID
    invoice = Invoice(id=invoice_id_for(order_id), client_id=spec.client_id, order_id=order_id,
                      status=spec.invoice_status, lines=lines, subtotal=subtotal, discount=ZERO, tax=ZERO, total=total,
                      balance=ZERO if paid else total, currency="USD", due_date=spec.placed_at[:10],
                      date_paid=spec.placed_at if paid else None, payment_method=spec.payment_method)
    order = Order(id=order_id, number=new_order_number(), placed_at=spec.placed_at, status=spec.status,
                  client=ClientRef(id=spec.client_id, name=spec.client_name, email=spec.client_email, company=None,
                                   country="GB"),
                  payment_method=spec.payment_method, total=total, currency="USD", invoice_id=invoice.id,
                  promo_code=spec.promo_code, ip_address=spec.ip_address, affiliate=spec.affiliate,
                  payment_status=payment_status_of(spec.invoice_status))
    passwords = {items[n].id: enc for n, enc in spec.passwords.items()}
    history = HistoryEntry(at=spec.placed_at, actor="tester", action="order placed", from_=None,
                           to=spec.status.value, detail=f"{len(items)} item(s)")
    return order, items, invoice, passwords, history


def place(stores: Stores, spec: Spec | None = None, **fields: object) -> Order:
    """Store a new order and read it back whole."""
    spec = spec or Spec(**fields)  # type: ignore[arg-type]
    order, items, invoice, passwords, history = parts(spec)
    stores.orders.create_order(order, items, invoice, passwords, history, spec.search)
    return stores.orders.get_order(order.id)


def index_for_search(stores: Stores, order: Order) -> None:
    """What the stream's search projection does for a new order's document (its terms listed,
    its postings written): the DynamoDB list's `q` reads those; the fake's reads the document."""
    doc = stores.search.get_doc(order.id, order.placed_at)
    assert doc is not None
    stores.search.ensure_terms(doc.posted)
    stores.search.post(order.id, order.placed_at, doc.posted, ())


def entry(action: str, at: str = LATER, **fields: str | None) -> HistoryEntry:
    return HistoryEntry(at=at, actor="tester", action=action, from_=fields.get("from_"), to=fields.get("to"),
                        detail=fields.get("detail"))


def status_change(to: OrderStatus, item_status: ItemStatus | None = None, **fields: object) -> OrderChange:
    return OrderChange(to_status=to, item_status=item_status, history=[entry(f"moved to {to.value}", to=to.value)],
                       **fields)  # type: ignore[arg-type]


def move(stores: Stores, order_id: str, to: OrderStatus, item_status: ItemStatus | None = None) -> Order:
    """Change an order's status through the one write path, from a fresh read."""
    stores.writes.apply(stores.orders.get_order(order_id), status_change(to, item_status))
    return stores.orders.get_order(order_id)


def new_action(order: Order, kind: str = "cancel", at: str = LATER) -> Action:
    return Action(id=new_id(), order_id=order.id, type=kind, status=ActionStatus.RUNNING,
                  steps=[ActionStep(name="cancel_invoice", status="PENDING"),
                         ActionStep(name="finish:cancel", status="PENDING")],
                  started_at=at, actor="tester", params={"refund": False})


def lock(stores: Stores, order_id: str, kind: str = "cancel") -> Action:
    """Start an action on the order (its lock taken) from a fresh read; the action as stored."""
    order = stores.orders.get_order(order_id)
    action = new_action(order, kind)
    stores.actions.start_action(order, action, frozenset({order.status}), entry(f"{kind} started"))
    return stores.actions.get_action(order_id, action.id)


def client(first: str = "Ada", last: str = "Lovelace", email: str = "ada@example.com", company: str | None = None,
           client_id: str | None = None, credit: str = "0.00") -> Client:
    return Client(id=client_id or new_id(), first_name=first, last_name=last, email=email, country="GB",
                  company=company, credit_balance=Decimal(credit), created_at=AT)
