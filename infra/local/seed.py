"""Demo and test data: clients, affiliates, servers and orders across every status.

Deterministic for a given seed. Orders are written through the stores (the same transaction
as the API's create), with `placed_at` spread over the last 90 days so lists, date filters,
paging and the dashboard's daily statistics have something to show: each order is written in
the status it reached (counted on its placing day), paid invoices carry their payment, some
cancelled orders a refund a day or so later, and some pending orders an Accept that failed then
(an action ended FAILED, its time in the past), so every figure of GET /stats/daily has a shape."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from orderdesk.domain.changes import OrderChange
from orderdesk.domain.model import (
    Action,
    ActionStep,
    Affiliate,
    AffiliateRef,
    Client,
    ClientRef,
    HistoryEntry,
    Invoice,
    InvoiceLine,
    Note,
    Order,
    OrderItem,
    Server,
    ServiceAccount,
    Transaction,
    invoice_id_for,
    iso,
    new_id,
    new_order_number,
    utcnow,
)
from orderdesk.domain.money import ZERO
from orderdesk.domain.statuses import ActionStatus, ActionType, InvoiceStatus, ItemKind, ItemStatus, OrderStatus
from orderdesk.services.ports import Stores, stores

FIRST = ["Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Radia", "Tim", "Frances",
         "Edsger", "Hedy", "John", "Katherine", "Donald", "Sophie", "Niklaus", "Anita", "Guido"]
LAST = ["Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Perlman",
        "Berners-Lee", "Allen", "Dijkstra", "Lamarr", "Backus", "Johnson", "Knuth", "Wilson", "Wirth", "Borg",
        "van Rossum"]
COMPANIES = [None, None, "Acme Hosting Ltd", "Initech", "Globex", "Umbrella Web", "Hooli", "Stark Industries",
             "Wayne Digital", "Cyberdyne"]
COUNTRIES = ["GB", "US", "DE", "FR", "NL", "CA", "AU", "IE", "ES", "SE", "IN", "BR"]
DOMAINS = ["gmail.com", "outlook.com", "example.org", "proton.me", "fastmail.com", "company.test"]
PRODUCTS = [("Starter Shared Hosting", "9.99"), ("Business Hosting", "24.00"), ("VPS 2GB", "15.00"),
            ("VPS 8GB", "48.00"), ("Dedicated Server", "129.00"), ("Reseller Hosting", "39.95")]
ADDONS = [("Daily Backups", "3.00"), ("Dedicated IP", "2.50"), ("SSL Certificate", "49.00")]
TLDS = [(".com", "12.99"), (".net", "13.99"), (".org", "11.49"), (".io", "39.00"), (".co.uk", "8.99")]
METHODS = ["stripe", "paypal", "banktransfer", "credit"]
PROMOS = [None, None, None, "WELCOME10", "BLACKFRIDAY", "SPRING5"]
CYCLES = ["monthly", "quarterly", "annually"]

STATUS_MIX = [OrderStatus.PENDING] * 35 + [OrderStatus.ACTIVE] * 40 + [OrderStatus.CANCELLED] * 15 + \
    [OrderStatus.FRAUD] * 10


@dataclass
class Seeded:
    clients: list[Client] = field(default_factory=list)
    affiliates: list[Affiliate] = field(default_factory=list)
    servers: list[Server] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)


def seed_directory(data: Stores, rng: random.Random, clients: int) -> Seeded:
    out = Seeded()
    for name, email in [("Northwind Referrals", "partners@northwind.test"), ("Hosting Reviews Weekly",
                                                                             "ads@hrw.test"),
                        ("Dev Podcast", "hello@devpodcast.test")]:
        aff = Affiliate(id=new_id(), name=name, email=email, created_at=iso(utcnow()))
        data.directory.put_affiliate(aff)
        out.affiliates.append(aff)
    for name, module, url, host in [("Manual provisioning", "none", None, None),
                                    ("Provisioning webhook", "webhook", "http://127.0.0.1:9/provision", None)]:
        srv = Server(id=new_id(), name=name, module=module, url=url, hostname=host, created_at=iso(utcnow()))
        data.directory.put_server(srv, None)
        out.servers.append(srv)
    for i in range(clients):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
        client = Client(
            id=new_id(), first_name=first, last_name=last,
            email=f"{first.lower()}.{last.lower().replace(' ', '')}{i}@{DOMAINS[i % len(DOMAINS)]}",
            country=COUNTRIES[i % len(COUNTRIES)], company=COMPANIES[i % len(COMPANIES)],
            credit_balance=ZERO, created_at=iso(utcnow() - timedelta(days=400 - i)),
        )
        data.clients.put_client(client)
        out.clients.append(client)
    return out


def build_order(rng: random.Random, client: Client, status: OrderStatus, placed: str,
                affiliate: Affiliate | None, servers: list[Server]) -> tuple[Order, list[OrderItem], Invoice]:
    order_id = new_id()
    items: list[OrderItem] = []
    item_status = {OrderStatus.PENDING: ItemStatus.PENDING, OrderStatus.ACTIVE: ItemStatus.ACTIVE,
                   OrderStatus.CANCELLED: ItemStatus.CANCELLED, OrderStatus.FRAUD: ItemStatus.FRAUD}[status]
    name, price = rng.choice(PRODUCTS)
    server = rng.choice(servers) if servers else None
    username = f"{client.first_name.lower()[:6]}{rng.randint(10, 99)}"
    # an Active order's product on a managed server has its account there (as an Accept leaves it)
    live = status is OrderStatus.ACTIVE and server is not None and server.module != "none"
    items.append(OrderItem(id=new_id(), kind=ItemKind.PRODUCT, description=name, billing_cycle=rng.choice(CYCLES),
                           amount=Decimal(price), status=item_status, server_id=server.id if server else None,
                           module=server.module if server else None, username=username,
                           account=ServiceAccount(server_id=server.id if server else None, username=username,
                                                  exists=live)))
    if rng.random() < 0.6:
        tld, tprice = rng.choice(TLDS)
        domain = f"{client.last_name.lower().replace(' ', '')}{rng.randint(1, 999)}{tld}"
        dstatus = ItemStatus.ACTIVE if status is OrderStatus.ACTIVE else item_status
        items.append(OrderItem(id=new_id(), kind=ItemKind.DOMAIN, description="Domain", billing_cycle="annually",
                               amount=Decimal(tprice), status=dstatus, domain=domain,
                               registration_type=rng.choice(["register", "register", "transfer"]), period_years=1,
                               registrar="none"))
    if rng.random() < 0.3:
        aname, aprice = rng.choice(ADDONS)
        items.append(OrderItem(id=new_id(), kind=ItemKind.ADDON, description=aname, billing_cycle="monthly",
                               amount=Decimal(aprice), status=item_status))
    promo = rng.choice(PROMOS)
    lines = [InvoiceLine(item_id=i.id, description=i.description if i.kind is not ItemKind.DOMAIN
                         else f"Domain Registration - {i.domain}", amount=i.amount) for i in items]
    subtotal = sum((line.amount for line in lines), ZERO)
    discount = (subtotal * Decimal("0.10")).quantize(Decimal("0.01")) if promo else ZERO
    subtotal, total = Invoice.totals(lines, discount)
    method = rng.choice(METHODS)
    paid = status is OrderStatus.ACTIVE or (status is OrderStatus.PENDING and rng.random() < 0.4)
    inv_status = {OrderStatus.CANCELLED: InvoiceStatus.CANCELLED, OrderStatus.FRAUD: InvoiceStatus.CANCELLED}.get(
        status, InvoiceStatus.PAID if paid else InvoiceStatus.UNPAID)
    # a cancelled order that had been paid: Cancel & Refund gave the money back a day or so later
    refunded = status is OrderStatus.CANCELLED and total > ZERO and rng.random() < 0.4
    if refunded:
        inv_status = InvoiceStatus.REFUNDED
    txns = []
    if inv_status in (InvoiceStatus.PAID, InvoiceStatus.REFUNDED):
        # recorded by hand, whatever the method: a seeded `credit` payment would take credit the
        # client's ledger never had (credit is never created from nothing)
        txns.append(Transaction(id=new_id(), type="payment", gateway="manual",
                                transaction_id=f"TX{rng.randint(100000, 999999)}", amount=total, at=placed))
    if refunded:
        back = min(datetime.fromisoformat(placed.replace("Z", "+00:00")) + timedelta(hours=rng.randint(2, 48)),
                   utcnow())
        txns.append(Transaction(id=new_id(), type="refund", gateway=txns[0].gateway,
                                transaction_id=f"RF{rng.randint(100000, 999999)}", amount=total, at=iso(back),
                                refund_of=txns[0].id))
        # paid back by hand (no refund API): done only as a person confirmed it, with its reference
        refund = txns[-1]
        refund.reference, refund.confirmed_by, refund.confirmed_at = refund.transaction_id, "billing", refund.at
    invoice = Invoice(id=invoice_id_for(order_id), client_id=client.id, order_id=order_id, status=inv_status,
                      lines=lines, subtotal=subtotal, discount=discount, tax=ZERO, total=total,
                      balance=ZERO if inv_status is InvoiceStatus.PAID else total, currency="USD",
                      due_date=placed[:10], date_paid=placed if inv_status in (InvoiceStatus.PAID,
                                                                               InvoiceStatus.REFUNDED) else None,
                      payment_method=method, transactions=txns)
    order = Order(
        id=order_id, number=new_order_number(), placed_at=placed, status=status,
        client=ClientRef(id=client.id, name=client.name, email=client.email, company=client.company,
                         country=client.country),
        payment_method=method, total=total, currency="USD", invoice_id=invoice.id, promo_code=promo,
        discount=discount, ip_address=f"203.0.113.{rng.randint(1, 254)}" if rng.random() < 0.8
        else f"198.51.100.{rng.randint(1, 254)}",
        affiliate=AffiliateRef(id=affiliate.id, name=affiliate.name) if affiliate else None,
        notes=rng.choice([None, None, "Please set up before Monday.", "Migrating from another host."]),
        payment_status=invoice.payment_status, skip_fraud_check=True,
    )
    return order, items, invoice


def seed_orders(data: Stores, rng: random.Random, directory: Seeded, count: int,
                statuses: list[OrderStatus] | None = None, spread_days: int = 90) -> list[Order]:
    now = utcnow()
    out: list[Order] = []
    for n in range(count):
        client = directory.clients[rng.randrange(len(directory.clients))]
        status = (statuses or STATUS_MIX)[rng.randrange(len(statuses or STATUS_MIX))]
        placed = iso(now - timedelta(seconds=rng.randrange(1, spread_days * 86400)))
        affiliate = rng.choice(directory.affiliates) if directory.affiliates and rng.random() < 0.25 else None
        order, items, invoice = build_order(rng, client, status, placed, affiliate, directory.servers)
        search = " ".join(x.lower() for x in [client.name, client.email, client.company or "",
                                              *(i.domain or "" for i in items)] if x)
        history = HistoryEntry(at=placed, actor="seed", action="order placed", from_=None, to=status.value,
                               detail="demo data")
        data.orders.create_order(order, items, invoice, {}, history, search)
        if n % 7 == 0:
            data.orders.add_note(order.id, Note(id=new_id(), at=placed, author="support@orderdesk.local",
                                         text="Customer asked about migration."),
                          HistoryEntry(at=placed, actor="seed", action="note added", from_=None, to=None))
        order.items, order.invoice = items, invoice
        if status is OrderStatus.PENDING and n % 9 == 4:
            seed_failed_accept(data, order.id, placed, rng)
        out.append(order)
    return out


def seed_failed_accept(data: Stores, order_id: str, placed: str, rng: random.Random) -> None:
    """An Accept of the order that failed an hour or so after it was placed (its server did not
    answer), through the stores as a workflow's failure is recorded: the action FAILED with its
    time, the order's lock released, the failure in its history."""
    started = datetime.fromisoformat(placed.replace("Z", "+00:00")) + timedelta(minutes=rng.randint(5, 90))
    if started >= utcnow():
        return
    finished = iso(min(started + timedelta(seconds=rng.randint(20, 300)), utcnow()))
    action = Action(id=new_id(), order_id=order_id, type=ActionType.ACCEPT.value, status=ActionStatus.RUNNING,
                    steps=[ActionStep(name="Provision items", status="RUNNING")], started_at=iso(started),
                    actor="support@orderdesk.local")
    data.actions.start_action(data.orders.get_order(order_id), action, frozenset({OrderStatus.PENDING}),
                              HistoryEntry(at=action.started_at, actor="seed", action="accept started", from_=None,
                                           to=None, detail="demo data"))
    why = "Provisioning webhook at 127.0.0.1/provision is unreachable (ConnectionError)"
    action.status, action.finished_at, action.error = ActionStatus.FAILED, finished, why
    action.steps = [ActionStep(name="Provision items", status="FAILED", error=why)]
    data.actions.end_action(data.orders.get_order(order_id), OrderChange(clear_lock=True, history=[HistoryEntry(
        at=finished, actor="seed", action="accept failed", from_=None, to=None, detail=why)]), action)


def seed_demo(orders: int = 300, clients: int = 60, seed: int = 42) -> Seeded:
    """The demo data `make run` loads on first start."""
    data = stores()
    rng = random.Random(seed)
    directory = seed_directory(data, rng, clients)
    directory.orders = seed_orders(data, rng, directory, orders)
    return directory
