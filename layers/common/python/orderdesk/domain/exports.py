"""An export of the orders list: what it is (the filters, how far it got) and what one row of its
CSV file says. Standard library only: the export function writes the rows, the store keeps the
record, the API reads it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .model import Order
from .money import fmt

RUNNING = "RUNNING"
DONE = "DONE"
FAILED = "FAILED"
STATUSES = (RUNNING, DONE, FAILED)

# Spreadsheets treat a cell that starts with one of these as a formula (or, for tab and carriage
# return, as the start of one once the cell is split or trimmed): OWASP's "CSV injection".
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Export:
    id: str
    status: str  # RUNNING | DONE | FAILED
    filters: dict[str, Any]  # as GET /orders takes them (JSON values), without limit and cursor
    created_at: str
    actor: str
    rows: int = 0  # written so far; all of them once DONE
    updated_at: str = ""  # the last sign of life of the run writing it
    finished_at: str | None = None
    error: str | None = None
    key: str | None = None  # the file's object key, once DONE
    run: str | None = None  # the delivery of the export function writing it now


def csv_cell(value: Any) -> str:
    """A value as a CSV cell a spreadsheet shows as text: None is empty, and a text that would
    start a formula gets a leading apostrophe (the csv module then quotes whatever needs it)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


# the columns of the file, in order: (heading, what of the order)
COLUMNS: tuple[tuple[str, Any], ...] = (
    ("Order number", lambda o: o.number),
    ("Placed at (UTC)", lambda o: o.placed_at),
    ("Status", lambda o: o.status.value),
    ("Client", lambda o: o.client.name),
    ("Client email", lambda o: o.client.email),
    ("Company", lambda o: o.client.company),
    ("Country", lambda o: o.client.country),
    ("Total", lambda o: fmt(o.total)),
    ("Currency", lambda o: o.currency),
    ("Discount", lambda o: fmt(o.discount)),
    ("Promo code", lambda o: o.promo_code),
    ("Payment method", lambda o: o.payment_method),
    ("Payment status", lambda o: o.payment_status.value),
    ("Invoice", lambda o: o.invoice_id),
    ("Affiliate", lambda o: o.affiliate.name if o.affiliate else None),
    ("IP address", lambda o: o.ip_address),
    ("Flagged for review", lambda o: "yes" if o.flagged_for_review else "no"),
    ("Needs attention", lambda o: " ".join(sorted({a.code for a in o.attention}))),
    ("Action running", lambda o: o.pending_action.type if o.pending_action else None),
    ("Client id", lambda o: o.client.id),
    ("Order id", lambda o: o.id),
)
HEADINGS = tuple(name for name, _ in COLUMNS)


def row_of(order: Order) -> list[str]:
    """One order as the cells of its row, escaped."""
    return [csv_cell(get(order)) for _, get in COLUMNS]
