"""Domain objects. The repository returns these; nothing here knows about storage."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .money import ZERO, money_sum, quantize
from .statuses import (
    ActionStatus,
    InvoiceStatus,
    ItemKind,
    ItemStatus,
    OrderStatus,
    PaymentStatus,
    payment_status_of,
)


def new_id() -> str:
    """Opaque, URL-safe, unguessable identifier."""
    return secrets.token_hex(8)


def new_order_number() -> str:
    """Random 10-digit number shown to clients (never starting with 0)."""
    return str(secrets.randbelow(9_000_000_000) + 1_000_000_000)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    """UTC, ISO 8601, seconds precision, with a trailing Z."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def invoice_id_for(order_id: str) -> str:
    """An invoice is born with its order; its id carries the order's so it is found in one read."""
    return f"inv-{order_id}"


def order_id_of_invoice(invoice_id: str) -> str | None:
    return invoice_id[4:] if invoice_id.startswith("inv-") and len(invoice_id) > 4 else None


@dataclass
class ClientRef:
    """The client as at ordering."""

    id: str
    name: str
    email: str
    company: str | None
    country: str


@dataclass
class AffiliateRef:
    id: str
    name: str


@dataclass
class PendingAction:
    action_id: str
    type: str
    started_at: str
    execution_arn: str | None = None


@dataclass
class ServiceAccount:
    """A product's account on its server, apart from the item's status: `exists` says whether
    the account is live there. Only a module command (create, terminate) changes it."""

    server_id: str | None = None
    username: str | None = None
    exists: bool = False


class RegistrationState:
    NONE = "none"  # never sent to a registrar
    PENDING = "pending"  # sent; the registry has not confirmed yet
    ACTIVE = "active"
    FAILED = "failed"


@dataclass
class DomainRegistration:
    """A domain's state at its registrar, apart from the item's status."""

    state: str = RegistrationState.NONE
    reference: str | None = None
    since: str | None = None  # when it entered this state
    detail: str | None = None


@dataclass(frozen=True)
class Attention:
    """Something an operator should look at: what the order says and what is real disagree."""

    code: str  # live_service | domain_waiting | refund_owed | failed_item
    item_id: str | None
    message: str


@dataclass
class OrderItem:
    id: str
    kind: ItemKind
    description: str
    billing_cycle: str
    amount: Decimal
    status: ItemStatus
    payment_status: PaymentStatus = PaymentStatus.UNPAID
    # products and addons
    server_id: str | None = None
    username: str | None = None
    module: str | None = None
    has_password: bool = False
    # domains
    domain: str | None = None
    registration_type: str | None = None
    period_years: int | None = None
    registrar: str | None = None
    # the last provisioning/termination outcome of this item (visible when a step failed)
    last_error: str | None = None
    account: ServiceAccount = field(default_factory=ServiceAccount)
    registration: DomainRegistration | None = None  # domains only
    # module commands done on it, by kind: the next one of a kind is a new command (its own
    # idempotency key), while a retry or rerun of one not done yet repeats the same
    commands: dict[str, int] = field(default_factory=dict)


@dataclass
class Transaction:
    id: str
    type: str  # payment | refund
    gateway: str
    transaction_id: str
    amount: Decimal
    at: str
    refund_of: str | None = None
    # a refund: "done" when the gateway paid it back (or an operator confirmed they did), "owed"
    # when it is recorded but someone must still pay the money back by hand
    state: str = "done"
    reference: str | None = None  # the operator's reference when confirming an owed refund
    confirmed_by: str | None = None  # who confirmed an owed refund paid back, and when
    confirmed_at: str | None = None


REFUND_DONE = "done"
REFUND_OWED = "owed"


@dataclass
class InvoiceLine:
    item_id: str
    description: str
    amount: Decimal


@dataclass
class Invoice:
    id: str
    client_id: str
    order_id: str
    status: InvoiceStatus
    lines: list[InvoiceLine]
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    balance: Decimal
    currency: str
    due_date: str
    date_paid: str | None
    payment_method: str
    transactions: list[Transaction] = field(default_factory=list)
    version: int = 0  # as stored: a write of the invoice is guarded on the version it was read at
    # the payments it had when it was read (the services change an invoice in place): the payments
    # a write adds are the others (`payments.new_payments`), each guarded unique per gateway
    stored_payment_ids: frozenset[str] = field(default_factory=frozenset, repr=False, compare=False)

    @staticmethod
    def totals(lines: list[InvoiceLine], discount: Decimal, tax: Decimal = ZERO) -> tuple[Decimal, Decimal]:
        """(subtotal, total): total = sum(lines) - discount + tax, never below zero."""
        subtotal = money_sum(line.amount for line in lines)
        total = quantize(max(subtotal - discount, ZERO) + tax)
        return subtotal, total

    def paid_amount(self) -> Decimal:
        return money_sum(t.amount for t in self.transactions if t.type == "payment")

    def refunded_amount(self) -> Decimal:
        return money_sum(t.amount for t in self.transactions if t.type == "refund")

    def open_balance(self) -> Decimal:
        """What is still to pay: total - payments + refunds (a refund gives back what was paid)."""
        return quantize(self.total - self.paid_amount() + self.refunded_amount())

    def owed_refunds(self) -> list[Transaction]:
        return [t for t in self.transactions if t.type == "refund" and t.state == "owed"]

    def refunded_payment_ids(self) -> set[str]:
        return {t.refund_of for t in self.transactions if t.type == "refund" and t.refund_of}

    @property
    def payment_status(self) -> PaymentStatus:
        return payment_status_of(self.status)


@dataclass
class FraudSignal:
    name: str
    value: Any
    weight: int
    triggered: bool


@dataclass
class FraudCheck:
    provider: str
    score: int
    decision: str  # accept | review | reject | error
    signals: list[FraudSignal]
    checked_at: str
    error: str | None = None


@dataclass
class Note:
    id: str
    at: str
    author: str
    text: str


@dataclass
class HistoryEntry:
    at: str
    actor: str
    action: str
    from_: str | None
    to: str | None
    detail: str | None = None
    execution: str | None = None
    # the money the change moved (a payment, a refund), so the activity log shows it exactly
    amount: Decimal | None = None
    currency: str | None = None


@dataclass
class ActionStep:
    name: str
    status: str  # PENDING | RUNNING | SUCCEEDED | FAILED | SKIPPED | OWED (a refund recorded, not made)
    error: str | None = None


@dataclass
class Action:
    id: str
    order_id: str
    type: str
    status: ActionStatus
    steps: list[ActionStep]
    started_at: str
    finished_at: str | None = None
    error: str | None = None
    actor: str | None = None
    execution_arn: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Order:
    id: str
    number: str
    placed_at: str
    status: OrderStatus
    client: ClientRef
    payment_method: str
    total: Decimal
    currency: str
    invoice_id: str
    promo_code: str | None = None
    discount: Decimal = ZERO
    ip_address: str | None = None
    affiliate: AffiliateRef | None = None
    notes: str | None = None
    fraud_check: FraudCheck | None = None
    pending_action: PendingAction | None = None
    payment_status: PaymentStatus = PaymentStatus.UNPAID
    skip_fraud_check: bool = False
    flagged_for_review: bool = False
    version: int = 0
    detail_loaded: bool = False  # read whole (items, invoice): what a change that moves them needs
    items: list[OrderItem] = field(default_factory=list)
    invoice: Invoice | None = None
    attention: list[Attention] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    admin_notes: list[Note] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)

    @property
    def available_actions(self) -> list[str]:
        """What the operator may do now (nothing while a workflow holds the order)."""
        from .transitions import available_actions

        return [] if self.pending_action else available_actions(self.status)


@dataclass
class Client:
    id: str
    first_name: str
    last_name: str
    email: str
    country: str
    company: str | None = None
    address: str | None = None
    phone: str | None = None
    credit_balance: Decimal = ZERO
    created_at: str = ""

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True)
class CreditChange:
    """A change of a client's credit balance and why (a refund to credit, a credit payment, an
    operator's adjustment): written as one entry of the client's credit ledger, with the balance
    moved by the same amount in the same transaction."""

    client_id: str
    amount: Decimal  # positive adds to the balance
    reason: str
    ref: str | None = None  # what caused it: the invoice of a payment or refund
    actor: str | None = None
    at: str | None = None  # when; the time of the write when not given


@dataclass(frozen=True)
class CreditEntry:
    """One entry of a client's credit ledger: the balance is the sum of the entries."""

    at: str
    amount: Decimal
    reason: str
    ref: str | None = None
    actor: str | None = None


@dataclass
class CreditLedger:
    """A client's credit balance with its entries, newest first (a page of them)."""

    client_id: str
    balance: Decimal
    entries: list[CreditEntry]
    last_key: str | None = None  # where the next page starts, None when there is no more


@dataclass
class Affiliate:
    id: str
    name: str
    email: str
    created_at: str = ""


@dataclass
class Server:
    id: str
    name: str
    module: str  # none | webhook | cpanel
    hostname: str | None = None
    url: str | None = None
    username: str | None = None
    has_credentials: bool = False
    created_at: str = ""


@dataclass
class BulkFailure:
    order_id: str
    error: str


@dataclass(frozen=True)
class BulkDecision:
    """What one bulk job decided for one order: moved it (`from_` → `to`) or refused it (`error`).
    Recorded on the order itself in the write that moves it, and the first decision stands, so a
    redelivered message (or two deliveries at once) finds it and never decides again."""

    at: str
    actor: str
    from_: str | None = None
    to: str | None = None
    error: str | None = None
    written_ns: int = 0  # when the move was written: its history record's key

    @property
    def moved(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class BulkOrderState:
    """An order as a bulk status change found it when it could not move it: why it could not."""

    status: OrderStatus
    locked: bool  # carries a pending action
    decision: BulkDecision | None  # this job's, when it decided already
    # its attention list would change with its status (a live account, a part payment): it moves
    # through the one write path, which recomputes the list, not by the bare status write
    moves_attention: bool = False


@dataclass
class BulkJob:
    """A bulk status change (or delete) of many orders, worked off a queue."""

    id: str
    target: str  # an order status, or "delete"
    total: int
    status: str = "QUEUED"  # QUEUED | RUNNING | DONE
    succeeded: int = 0
    failed: int = 0
    created_at: str = ""
    actor: str | None = None
    failures: list[BulkFailure] = field(default_factory=list)
    # what the stale-job sweep needs to finish a job nobody moves on: its orders, as the messages
    # split them, which messages were counted, and when it last moved
    order_ids: list[str] = field(default_factory=list)
    chunk_size: int = 0
    counted_chunks: set[int] = field(default_factory=set)
    updated_at: str = ""
