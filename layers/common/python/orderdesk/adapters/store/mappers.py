"""Records to domain objects and back: the only place that knows both shapes."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from ...domain.activity import ActivityEntry, ActivityType, DeletedOrder
from ...domain.model import (
    REFUND_OWED,
    Action,
    ActionStep,
    Affiliate,
    AffiliateRef,
    Attention,
    Client,
    ClientRef,
    CreditChange,
    CreditEntry,
    DomainRegistration,
    FraudCheck,
    FraudSignal,
    HistoryEntry,
    Invoice,
    InvoiceLine,
    Note,
    Order,
    OrderItem,
    PendingAction,
    RegistrationState,
    Server,
    ServiceAccount,
    Transaction,
    new_id,
)
from ...domain.payments import refunds_by_api
from ...domain.statuses import ActionStatus, InvoiceStatus, ItemKind, ItemStatus, OrderStatus, PaymentStatus
from . import keys
from . import records as r
from . import view_records as v


def order_from(rec: r.OrderRecord) -> Order:
    client = rec.client or {}
    affiliate = rec.affiliate
    return Order(
        id=rec.id, number=rec.number, placed_at=rec.placed_at, status=OrderStatus(rec.status),
        client=ClientRef(id=rec.client_id, name=client.get("name", ""), email=client.get("email", ""),
                         company=client.get("company"), country=client.get("country", "")),
        payment_method=rec.payment_method, total=rec.total, currency=rec.currency, invoice_id=rec.invoice_id,
        promo_code=rec.promo_code, discount=rec.discount, ip_address=rec.ip_address,
        affiliate=AffiliateRef(id=affiliate["id"], name=affiliate["name"]) if affiliate else None,
        notes=rec.notes,
        fraud_check=fraud_from(rec.fraud_check) if rec.fraud_check else None,
        pending_action=PendingAction(**rec.pending_action) if rec.pending_action else None,
        payment_status=PaymentStatus(rec.payment_status),
        skip_fraud_check=bool(rec.skip_fraud_check),
        flagged_for_review=bool(rec.flagged_for_review),
        version=int(rec.version or 0),
        attention=[Attention(code=a["code"], item_id=a.get("item_id"), message=a.get("message", ""))
                   for a in rec.attention or []],
    )


def attention_dicts(attention: list[Attention]) -> list[dict[str, Any]]:
    return [{"code": a.code, "item_id": a.item_id, "message": a.message} for a in attention]


def order_record(order: Order, search: str, shards: int) -> r.OrderRecord:
    shard = keys.shard_of(order.id, shards)
    sk = keys.sort_key(order.placed_at, order.id)
    return r.OrderRecord(
        pk=keys.order_pk(order.id), sk=keys.ORDER_SK,
        gsi1pk=keys.status_partition(order.status.value, shard), gsi1sk=sk,
        gsi2pk=keys.all_orders_partition(shard), gsi2sk=sk,
        gsi3pk=keys.client_orders_partition(order.client.id), gsi3sk=sk,
        id=order.id, number=order.number, placed_at=order.placed_at, status=order.status.value,
        client_id=order.client.id,
        client={"name": order.client.name, "email": order.client.email, "company": order.client.company,
                "country": order.client.country},
        promo_code=order.promo_code, discount=order.discount, payment_method=order.payment_method,
        total=order.total, currency=order.currency, invoice_id=order.invoice_id,
        payment_status=order.payment_status.value, ip_address=order.ip_address,
        affiliate_id=order.affiliate.id if order.affiliate else None,
        affiliate={"id": order.affiliate.id, "name": order.affiliate.name} if order.affiliate else None,
        notes=order.notes, skip_fraud_check=order.skip_fraud_check, flagged_for_review=order.flagged_for_review,
        search=search, total_band=keys.total_band(order.total),
    )


def item_from(rec: r.ItemRecord, payment_status: PaymentStatus) -> OrderItem:
    return OrderItem(
        id=rec.id, kind=ItemKind(rec.item_kind), description=rec.description, billing_cycle=rec.billing_cycle,
        amount=rec.amount, status=ItemStatus(rec.status), payment_status=payment_status,
        server_id=rec.server_id, username=rec.username, module=rec.module,
        has_password=rec.password_enc is not None, domain=rec.domain, registration_type=rec.registration_type,
        period_years=int(rec.period_years) if rec.period_years is not None else None,
        registrar=rec.registrar, last_error=rec.last_error,
        account=ServiceAccount(server_id=rec.server_id, username=rec.username, exists=bool(rec.account_exists)),
        registration=DomainRegistration(**rec.registration) if rec.registration else (
            DomainRegistration() if rec.item_kind == ItemKind.DOMAIN.value else None),
        commands={k: int(v) for k, v in (rec.commands or {}).items()},
    )


def registration_dict(reg: DomainRegistration) -> dict[str, Any]:
    return {"state": reg.state, "reference": reg.reference, "since": reg.since, "detail": reg.detail}


def registration_fields(order_id: str, item_id: str, reg: DomainRegistration) -> dict[str, Any]:
    """An item's registration with its sparse `DOMAINWAIT` entry of `by_type`, together: the entry
    is there exactly while the registration is pending (None removes it)."""
    waiting = reg.state == RegistrationState.PENDING
    return {"registration": registration_dict(reg),
            "gsi4pk": keys.DOMAINS_WAITING if waiting else None,
            "gsi4sk": keys.waiting_sort_key(reg.since or "", order_id, item_id) if waiting else None}


def domain_lookup_record(order_id: str, item: OrderItem) -> r.DomainItemRecord | None:
    """The record that finds a domain item by its domain name (None for other items)."""
    if not item.domain:
        return None
    return r.DomainItemRecord(pk=keys.domain_pk(item.domain), sk=keys.domain_item_sk(order_id, item.id),
                              order_id=order_id, item_id=item.id)


def item_record(order_id: str, position: int, item: OrderItem, password_enc: str | None) -> r.ItemRecord:
    return r.ItemRecord(
        pk=keys.order_pk(order_id), sk=keys.item_sk(item.id), id=item.id, order_id=order_id, position=position,
        item_kind=item.kind.value, description=item.description, billing_cycle=item.billing_cycle,
        amount=item.amount, status=item.status.value, server_id=item.server_id, username=item.username,
        module=item.module, password_enc=password_enc, domain=item.domain, account_exists=item.account.exists,
        registration_type=item.registration_type, period_years=item.period_years, registrar=item.registrar,
    )


def invoice_from(rec: r.InvoiceRecord) -> Invoice:
    transactions = [txn_from(t) for t in rec.transactions]
    return Invoice(
        id=rec.id, client_id=rec.client_id, order_id=rec.order_id, status=InvoiceStatus(rec.status),
        lines=[InvoiceLine(**line) for line in rec.lines], subtotal=rec.subtotal, discount=rec.discount,
        tax=rec.tax, total=rec.total, balance=rec.balance, currency=rec.currency, due_date=rec.due_date,
        date_paid=rec.date_paid, payment_method=rec.payment_method,
        transactions=transactions, version=int(rec.version or 0),
        stored_payment_ids=frozenset(t.id for t in transactions if t.type == "payment"),
    )


def txn_from(t: dict[str, Any]) -> Transaction:
    txn = Transaction(**t)
    if txn.type == "refund" and "state" not in t and not refunds_by_api(txn.gateway):
        # recorded before refunds had a state: one through a gateway with no refund API was
        # never paid back by OrderDesk, so it is owed until someone confirms it
        txn.state = REFUND_OWED
    return txn


def invoice_record(invoice: Invoice) -> r.InvoiceRecord:
    return r.InvoiceRecord(
        pk=keys.order_pk(invoice.order_id), sk=keys.INVOICE_SK, id=invoice.id, order_id=invoice.order_id,
        client_id=invoice.client_id, status=invoice.status.value,
        lines=[{"item_id": li.item_id, "description": li.description, "amount": li.amount} for li in invoice.lines],
        subtotal=invoice.subtotal, discount=invoice.discount, tax=invoice.tax, total=invoice.total,
        balance=invoice.balance, currency=invoice.currency, due_date=invoice.due_date, date_paid=invoice.date_paid,
        payment_method=invoice.payment_method, transactions=[txn_dict(t) for t in invoice.transactions],
    )


def txn_dict(t: Transaction) -> dict[str, Any]:
    out = {"id": t.id, "type": t.type, "gateway": t.gateway, "transaction_id": t.transaction_id,
           "amount": t.amount, "at": t.at, "refund_of": t.refund_of}
    if t.type == "refund":
        out.update({"state": t.state, "reference": t.reference})
        if t.confirmed_by:
            out.update({"confirmed_by": t.confirmed_by, "confirmed_at": t.confirmed_at})
    return out


def history_from(rec: r.HistoryRecord) -> HistoryEntry:
    return HistoryEntry(at=rec.at, actor=rec.actor, action=rec.action, from_=rec.from_status, to=rec.to_status,
                        detail=rec.detail, execution=rec.execution, amount=rec.amount, currency=rec.currency)


def history_record(order_id: str, entry: HistoryEntry, seq: int = 0, *, written_ns: int | None = None) -> r.HistoryRecord:
    """A history entry's record. `written_ns` given (a bulk move's recorded write time), the key is
    that write's own, so writing it again is harmless; otherwise the time of this write."""
    if written_ns is None:
        sk = keys.history_sk(entry.at, time.time_ns(), f"{seq:03d}{new_id()[:4]}")
    else:
        sk = keys.history_sk(entry.at, written_ns, "bulk")
    return r.HistoryRecord(pk=keys.order_pk(order_id), sk=sk, at=entry.at, actor=entry.actor, action=entry.action,
                           from_status=entry.from_, to_status=entry.to, detail=entry.detail,
                           execution=entry.execution, amount=entry.amount, currency=entry.currency)


def note_from(rec: r.NoteRecord) -> Note:
    return Note(id=rec.id, at=rec.at, author=rec.author, text=rec.text)


def action_from(rec: r.ActionRecord) -> Action:
    return Action(
        id=rec.id, order_id=rec.order_id, type=rec.action_type, status=ActionStatus(rec.status),
        steps=[ActionStep(**s) for s in rec.steps], started_at=rec.started_at, finished_at=rec.finished_at,
        error=rec.error, actor=rec.actor, execution_arn=rec.execution_arn, params=rec.params or {},
    )


def action_record(action: Action) -> r.ActionRecord:
    return r.ActionRecord(
        pk=keys.order_pk(action.order_id), sk=keys.action_sk(action.id), id=action.id, order_id=action.order_id,
        action_type=action.type, status=action.status.value, steps=[s.__dict__ for s in action.steps],
        started_at=action.started_at, finished_at=action.finished_at, error=action.error, actor=action.actor,
        execution_arn=action.execution_arn, params=action.params,
    )


def pending_dict(p: PendingAction) -> dict[str, Any]:
    return {"action_id": p.action_id, "type": p.type, "started_at": p.started_at, "execution_arn": p.execution_arn}


def fraud_from(d: dict[str, Any]) -> FraudCheck:
    return FraudCheck(
        provider=d["provider"], score=int(d["score"]), decision=d["decision"],
        signals=[FraudSignal(**s) for s in d.get("signals", [])], checked_at=d["checked_at"], error=d.get("error"),
    )


def fraud_dict(check: FraudCheck) -> dict[str, Any]:
    return {"provider": check.provider, "score": check.score, "decision": check.decision,
            "signals": [s.__dict__ for s in check.signals], "checked_at": check.checked_at, "error": check.error}


def client_from(rec: r.ClientRecord) -> Client:
    return Client(
        id=rec.id, first_name=rec.first_name, last_name=rec.last_name, email=rec.email, country=rec.country,
        company=rec.company, address=rec.address, phone=rec.phone, credit_balance=rec.credit_balance,
        created_at=rec.created_at,
    )


def credit_entry_from(rec: r.CreditEntryRecord) -> CreditEntry:
    return CreditEntry(at=rec.at, amount=rec.amount, reason=rec.reason, ref=rec.ref, actor=rec.actor)


def credit_entry_record(change: CreditChange, at: str, written_ns: int, seq: int = 0) -> r.CreditEntryRecord:
    return r.CreditEntryRecord(pk=keys.client_pk(change.client_id),
                               sk=keys.credit_entry_sk(at, written_ns, f"{seq:03d}{new_id()[:4]}"),
                               client_id=change.client_id, at=at, amount=change.amount, reason=change.reason,
                               ref=change.ref, actor=change.actor)


def client_record(client: Client) -> r.ClientRecord:
    return r.ClientRecord(
        pk=keys.client_pk(client.id), sk=keys.CLIENTS, gsi4pk=keys.CLIENTS,
        gsi4sk=keys.name_sort_key(f"{client.last_name} {client.first_name}", client.id),
        id=client.id, first_name=client.first_name, last_name=client.last_name, email=client.email,
        company=client.company, country=client.country, address=client.address, phone=client.phone,
        credit_balance=client.credit_balance, created_at=client.created_at,
        # a new client's ledger opens with it: what it starts with is its opening entry
        credit_opening=client.credit_balance, ledger_opened=client.created_at,
        search=" ".join(x.lower() for x in (client.first_name, client.last_name, client.email, client.company) if x),
    )


def affiliate_from(rec: r.AffiliateRecord) -> Affiliate:
    return Affiliate(id=rec.id, name=rec.name, email=rec.email, created_at=rec.created_at)


def server_from(rec: r.ServerRecord) -> Server:
    return Server(id=rec.id, name=rec.name, module=rec.module, hostname=rec.hostname, url=rec.url,
                  username=rec.username, has_credentials=rec.credentials_enc is not None, created_at=rec.created_at)


def activity_record(entry: ActivityEntry, pk: str, sk: str, *, indexed: bool) -> v.ActivityRecord:
    """An activity entry's record; `indexed`: also under its order's number in `by_type`."""
    by_number = indexed and entry.order_number is not None
    return v.ActivityRecord(
        pk=pk, sk=sk, ttl=entry.keep_until,
        gsi4pk=keys.activity_order_partition(entry.order_number or "") if by_number else None,
        gsi4sk=sk if by_number else None,
        at=entry.at, actor=entry.actor, entry_type=entry.type.value, action=entry.action, source=entry.source,
        written_ns=entry.written_ns, order_id=entry.order_id, order_number=entry.order_number,
        client_id=entry.client_id, detail=entry.detail, from_status=entry.from_, to_status=entry.to,
        amount=entry.amount, currency=entry.currency,
        deleted_order=deleted_order_dict(entry.deleted_order) if entry.deleted_order else None)


def activity_from(rec: v.ActivityRecord) -> ActivityEntry:
    return ActivityEntry(
        at=rec.at, actor=rec.actor, type=ActivityType(rec.entry_type), action=rec.action, source=rec.source,
        written_ns=int(rec.written_ns), keep_until=rec.ttl or datetime.now(UTC), order_id=rec.order_id,
        order_number=rec.order_number, client_id=rec.client_id, detail=rec.detail, from_=rec.from_status,
        to=rec.to_status, amount=rec.amount, currency=rec.currency,
        deleted_order=deleted_order_from(rec.deleted_order) if rec.deleted_order else None)


def deleted_order_dict(gone: DeletedOrder) -> dict[str, Any]:
    client = gone.client
    return {"number": gone.number, "status": gone.status, "placed_at": gone.placed_at,
            "client": {"id": client.id, "name": client.name, "email": client.email, "company": client.company,
                       "country": client.country},
            "total": gone.total, "currency": gone.currency, "invoice_id": gone.invoice_id,
            "payments": [txn_dict(t) for t in gone.payments], "refunds": [txn_dict(t) for t in gone.refunds]}


def deleted_order_from(d: dict[str, Any]) -> DeletedOrder:
    return DeletedOrder(number=d["number"], status=d["status"], placed_at=d["placed_at"], client=ClientRef(**d["client"]),
                        total=d["total"], currency=d["currency"], invoice_id=d.get("invoice_id"),
                        payments=[Transaction(**t) for t in d.get("payments", [])],
                        refunds=[Transaction(**t) for t in d.get("refunds", [])])
