"""What the in-memory stores hold, under one lock.

An order is kept as DynamoDB keeps its partition: the order record (`header`) beside its items,
invoice, notes, history, actions, fraud check and the bulk jobs' decisions. The order record can
be gone while other records are still there (a delete removes the children, then the order, then
what was written meanwhile), and a few writes land in a partition whatever it holds (history,
bulk history), so the fake keeps the same shape rather than one object per order.

Everything stored is a copy of what the caller passed, and everything returned is a copy of what
is stored: a caller mutating an object never changes the store, as with a database."""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NoReturn, TypeVar

from orderdesk.domain.activity import ActivityEntry
from orderdesk.domain.errors import ActionInProgress, ConcurrentUpdate, OrderNotFound
from orderdesk.domain.exports import Export
from orderdesk.domain.gateway_events import GatewayEvent
from orderdesk.domain.model import (
    Action,
    Affiliate,
    BulkDecision,
    BulkJob,
    Client,
    CreditEntry,
    FraudCheck,
    HistoryEntry,
    Invoice,
    Note,
    Order,
    OrderItem,
    Server,
)
from orderdesk.domain.queries import ATTENTION, Counted
from orderdesk.domain.search import SearchDoc
from orderdesk.domain.stats import DayCounts
from orderdesk.domain.statuses import OrderStatus

T = TypeVar("T")

HistoryKey = tuple[str, int, str]  # (at, write time, tie-break): the order DynamoDB's history keys sort in


def clone(value: T) -> T:
    return copy.deepcopy(value)


def sort_key(order: Order) -> str:
    """Where an order sits in every list of orders (newest first when read backwards)."""
    return f"{order.placed_at}#{order.id}"


@dataclass
class Partition:
    header: Order | None = None  # the order record: no items, invoice, history, notes or actions
    search: str = ""
    fraud: FraudCheck | None = None
    items: dict[str, OrderItem] = field(default_factory=dict)  # in their order on the order
    passwords: dict[str, str] = field(default_factory=dict)  # encrypted, per item
    # whether an item's account is live on its server, as recorded (None: never recorded)
    accounts: dict[str, bool | None] = field(default_factory=dict)
    invoice: Invoice | None = None
    invoice_version: int = 0
    notes: dict[tuple[str, str], Note] = field(default_factory=dict)
    history: dict[HistoryKey, HistoryEntry] = field(default_factory=dict)
    actions: dict[str, Action] = field(default_factory=dict)
    decisions: dict[str, BulkDecision] = field(default_factory=dict)  # per bulk job, as read back
    # the attention list would differ were the status another: a bulk change then takes the one
    # write path (which recomputes the list) instead of its bare status write
    status_moves_attention: bool = False

    def children(self) -> int:
        """The records besides the order record, counted as DynamoDB would."""
        return (len(self.items) + (self.invoice is not None) + len(self.notes) + len(self.history)
                + len(self.actions) + (self.fraud is not None))

    def clear_children(self) -> None:
        self.fraud, self.invoice, self.invoice_version = None, None, 0
        for records in (self.items, self.passwords, self.accounts, self.notes, self.history, self.actions):
            records.clear()


def read_invoice(p: Partition) -> Invoice | None:
    """The invoice as stored, with the version a change of it is guarded on and the payments it
    has (what a change adds to it is the others)."""
    invoice = clone(p.invoice)
    if invoice is not None:
        invoice.version = p.invoice_version
        invoice.stored_payment_ids = frozenset(t.id for t in invoice.transactions if t.type == "payment")
    return invoice


@dataclass
class Ledger:
    """A client's credit ledger: the balance it opened with (None: a client stored before the
    ledger, whose whole balance is the opening until its first change) and its entries, each
    under its write time."""

    opening: Decimal | None = None
    opened_at: str | None = None
    entries: dict[str, CreditEntry] = field(default_factory=dict)  # key: as DynamoDB's sort key


@dataclass
class JobRecord:
    job: BulkJob  # counters and status as stored (no failures: those are the outcomes)
    chunks: set[int] = field(default_factory=set)
    finished_at: str | None = None


@dataclass
class Outcome:
    ok: bool
    error: str | None = None
    deleting: bool = False  # a bulk delete claimed, not yet counted


class MemoryState:
    """Every record of the fake, and the one lock each store takes around a whole operation: an
    operation checks all of its conditions before it changes anything, as a transaction does."""

    def __init__(self, domain_wait_hours: int = 24) -> None:
        self.domain_wait_hours = domain_wait_hours  # a domain waiting longer needs attention
        self.lock = threading.RLock()
        self.partitions: dict[str, Partition] = {}
        self.numbers: dict[str, str] = {}  # order number -> order id: the uniqueness guard
        self.clients: dict[str, Client] = {}
        self.affiliates: dict[str, Affiliate] = {}
        self.servers: dict[str, tuple[Server, str | None]] = {}  # with the encrypted credentials
        self.jobs: dict[str, JobRecord] = {}
        self.outcomes: dict[tuple[str, str], Outcome] = {}  # (job id, order id)
        self.counted: dict[str, tuple[Counted, int]] = {}  # order id -> what is counted of it, at which version
        self.counts: dict[str, int] = dict.fromkeys([*(s.value for s in OrderStatus), ATTENTION], 0)
        self.published: dict[str, str] = {}  # order event id -> its detail-type, once the bus took it
        self.activity: dict[str, ActivityEntry] = {}  # the activity log, by position (`activity.position_of`)
        self.kept_deletions: dict[str, ActivityEntry] = {}  # order id -> what its delete keeps
        self.registrar_events: dict[str, str] = {}  # registrar event id -> its domain, once applied
        # (gateway, event id) -> the event kept and its place in the unmatched list's order
        self.gateway_events: dict[tuple[str, str], tuple[GatewayEvent, str]] = {}
        self.gateway_payments: dict[tuple[str, str], str] = {}  # (gateway, transaction id) -> invoice id
        self.exports: dict[str, Export] = {}
        self.days: dict[str, DayCounts] = {}  # the daily statistics, by day
        self.daily_counted: set[str] = set()  # the happenings counted in them
        # the search index: a document per order (written with it, gone with it), and what the
        # stream's projection derives from them (postings per term, the terms listed)
        self.search_docs: dict[str, SearchDoc] = {}
        self.postings: dict[str, set[str]] = {}  # term -> sort keys of the orders having it
        self.terms: set[str] = set()
        self.ledgers: dict[str, Ledger] = {}  # client id -> its credit ledger
        # (gateway in lower case, transaction id) -> the invoice whose payment took it
        self.payment_guards: dict[tuple[str, str], str] = {}
        self._last_write = 0

    # -- partitions --------------------------------------------------------------------------------

    def partition(self, order_id: str) -> Partition | None:
        return self.partitions.get(order_id)

    def partition_for_write(self, order_id: str) -> Partition:
        return self.partitions.setdefault(order_id, Partition())

    def header(self, order_id: str) -> Order | None:
        p = self.partitions.get(order_id)
        return p.header if p is not None else None

    def drop_if_empty(self, order_id: str) -> None:
        p = self.partitions.get(order_id)
        if p is not None and p.header is None and p.children() == 0 and not p.decisions:
            del self.partitions[order_id]

    def orders(self) -> list[tuple[Order, str]]:
        """Every order record that exists, with its search text (stored objects: copy before
        handing one out)."""
        return [(p.header, p.search) for p in self.partitions.values() if p.header is not None]

    # -- history -----------------------------------------------------------------------------------

    def write_time(self) -> int:
        """Nanoseconds of the wall clock, strictly increasing: entries written in one second keep
        the order they were written in, as the time in DynamoDB's history keys does."""
        self._last_write = max(time.time_ns(), self._last_write + 1)
        return self._last_write

    def add_history(self, order_id: str, entry: HistoryEntry, seq: int = 0) -> None:
        key = (entry.at, self.write_time(), f"{seq:03d}")
        self.partition_for_write(order_id).history[key] = clone(entry)

    # -- the activity log ---------------------------------------------------------------------------

    def add_activity(self, entry: ActivityEntry) -> bool:
        """Put an entry unless one is at its key (the first writing stays)."""
        from .activity import position_of

        position = position_of(entry)
        if position in self.activity:
            return False
        self.activity[position] = clone(entry)
        return True

    # -- refusals ----------------------------------------------------------------------------------

    def refused(self, order_id: str, holder: str | None = None) -> NoReturn:
        """A guarded write of an order was refused: say why from its current state, as the
        DynamoDB data layer does (`OrderWrites.explain_refusal`): the lock of the action making the
        change (`holder`) is no reason, another write of that action won the race."""
        current = self.header(order_id)
        if current is None:
            raise OrderNotFound(f"order {order_id} not found", order_id=order_id)
        if current.pending_action is not None and current.pending_action.action_id != holder:
            raise ActionInProgress.held_by(order_id, current.pending_action)
        raise ConcurrentUpdate(f"order {order_id} changed meanwhile; try again")
