"""The activity log's rules, no database: which type each history entry is (for every action the
code writes), what a deletion entry keeps, how stream images of history and credit-ledger records
are read (the real record formats, as DynamoDB Streams and Powertools show them), and how a page
is merged from shards read to different depths."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from infra.local.seed import build_order
from orderdesk.adapters.store import keys, mappers
from orderdesk.adapters.store.activity import _merge
from orderdesk.adapters.store.images import StreamImages
from orderdesk.domain.activity import (
    ActivityEntry,
    ActivityType,
    OrderRef,
    Source,
    deletion_of,
    from_history,
    type_of,
)
from orderdesk.domain.items import COMMANDS
from orderdesk.domain.model import Client, HistoryEntry, Transaction
from orderdesk.domain.statuses import OrderStatus
from orderdesk.services.workflow_contract import LABELS

LIBRARY = Path(__file__).resolve().parents[2] / "layers" / "common" / "python" / "orderdesk"

T = ActivityType
# every history action the code writes, and the type of its entry
EXPECTED: dict[str, ActivityType] = {
    "order placed": T.ORDER, "affiliate assigned": T.ORDER, "affiliate removed": T.ORDER,
    "set back to pending": T.ORDER, "stale lock released": T.ORDER, "bulk status change": T.ORDER,
    "welcome email sent": T.ORDER, "welcome email sent again": T.ORDER, "delete started": T.ORDER,
    "note added": T.NOTE, "fraud check": T.FRAUD,
    "payment recorded": T.PAYMENT, "payment refunded": T.REFUND, "refund made in Stripe": T.REFUND,
    "refund owed": T.REFUND, "refund confirmed": T.REFUND,  # (the refunds owed, being added)
    "invoice cancelled": T.INVOICE, "invoice refunded": T.INVOICE, "invoice re-opened": T.INVOICE,
    "items updated": T.ITEM, "items set back to pending": T.ITEM, "item provisioned": T.ITEM,
    "item terminated": T.ITEM, "domain activated": T.ITEM, "domain sent to registrar": T.ITEM,
    "domain registration done": T.ITEM, "domain registration failed": T.ITEM, "domain transfer done": T.ITEM,
    "domain transfer failed": T.ITEM, "domain waiting too long": T.ITEM,  # a registrar's answer, the sync
    "credit added": T.CREDIT, "credit used": T.CREDIT,
    **{f"item {command}": T.ITEM for command in COMMANDS},
    # an action's start, end and failure: of the order, but a per-item command's, of its items
    **{f"{label} {end}": T.ITEM if label == "item command" else T.ORDER
       for label in LABELS.values() for end in ("started", "done", "failed")},
}


@pytest.mark.parametrize(("action", "expected"), sorted(EXPECTED.items()))
def test_each_history_action_has_the_type_of_what_it_changed(action: str, expected: ActivityType) -> None:
    assert type_of(action) is expected


def test_every_history_action_the_code_writes_has_a_type_decided_here() -> None:
    # GIVEN every literal action name the library writes into history (a new one must be added
    # to EXPECTED, its type decided, not left to the fallback)
    named = re.compile(r'(?:\baction\s*=\s*\(?|\.history\(\s*|_SENT\s*=\s*|_ACTION\s*=\s*)"([a-z][^"{]*)"')
    otherwise = re.compile(r'\baction\s*=\s*"[^"]*"\s+if\s+[^\n]*?\belse\s*"([a-z][^"{]*)"')
    written = {m for path in LIBRARY.rglob("*.py") for pattern in (named, otherwise)
               for m in pattern.findall(path.read_text())}
    # THEN each is known (the scan finds them: it can fail)
    assert {"order placed", "payment refunded", "welcome email sent", "domain activated", "affiliate removed",
            "items set back to pending"} <= written
    assert written <= set(EXPECTED) | {"order deleted"}, written - set(EXPECTED)


def test_an_unknown_action_is_an_order_change_and_case_does_not_matter() -> None:
    assert type_of("something new") is T.ORDER
    assert type_of("Payment Recorded") is T.PAYMENT


def test_a_history_entry_becomes_an_entry_with_its_order_and_money() -> None:
    # GIVEN a refund's history entry and its order
    entry = HistoryEntry(at="2026-03-02T10:15:00Z", actor="ada", action="payment refunded", from_=None, to=None,
                         detail="27.00 USD of stripe payment ch_1", amount=Decimal("27.00"))
    ref = OrderRef(number="4821937405", client_id="c1", currency="EUR")
    # WHEN it becomes an entry
    got = from_history("o1", entry, Source("o1#HIST#2026-03-02T10:15:00Z#00000000000000000042abc", 42), ref=ref,
                       retention_days=10)
    # THEN it has its order's number, the money (in the order's currency) and its expiry
    assert (got.type, got.order_number, got.client_id, got.amount, got.currency) == (
        T.REFUND, "4821937405", "c1", Decimal("27.00"), "EUR")
    assert got.keep_until == datetime(2026, 3, 12, 10, 15, tzinfo=UTC)
    assert got.written_ns == 42


def test_a_deletion_entry_keeps_number_client_total_and_every_payment_and_refund() -> None:
    # GIVEN a cancelled order paid twice and refunded once
    client = Client(id="c1", first_name="Ada", last_name="Lovelace", email="ada@example.com", country="GB")
    order, items, invoice = build_order(random.Random(3), client, OrderStatus.CANCELLED, "2026-03-02T10:15:00Z",
                                        None, [])
    invoice.transactions = [
        Transaction(id="p1", type="payment", gateway="stripe", transaction_id="ch_1", amount=Decimal("7.00"), at="x"),
        Transaction(id="p2", type="payment", gateway="banktransfer", transaction_id="B-2", amount=Decimal("3.50"),
                    at="y"),
        Transaction(id="r1", type="refund", gateway="stripe", transaction_id="re_1", amount=Decimal("7.00"), at="z",
                    refund_of="p1")]
    order.invoice = invoice
    # WHEN its deletion entry is made, and stored and read back
    entry = deletion_of(order, actor="admin", at="2026-04-01T00:00:00Z", written_ns=5, retention_days=2555)
    stored = mappers.activity_from(mappers.activity_record(entry, "p", "s", indexed=True))
    # THEN it holds all the SPEC names, exactly
    for got in (entry, stored):
        gone = got.deleted_order
        assert gone is not None and got.type is T.DELETION
        assert (gone.number, gone.client.name, gone.total, gone.currency) == (
            order.number, order.client.name, order.total, order.currency)
        assert [(t.gateway, t.transaction_id, t.amount) for t in gone.payments] == [
            ("stripe", "ch_1", Decimal("7.00")), ("banktransfer", "B-2", Decimal("3.50"))]
        assert [(t.transaction_id, t.refund_of) for t in gone.refunds] == [("re_1", "p1")]
        assert got.keep_until == datetime(2026, 4, 1, tzinfo=UTC) + timedelta(days=2555)
    assert "ch_1" in (entry.detail or "") and "B-2" in (entry.detail or "") and order.number in (entry.detail or "")


# -- stream images ------------------------------------------------------------------------------


def image(raw: dict[str, Any]) -> dict[str, Any]:
    deserializer = TypeDeserializer()
    return {name: deserializer.deserialize(value) for name, value in raw.items()}


def test_a_history_records_image_is_read_with_its_key_as_the_entrys_source() -> None:
    # GIVEN the stream image of a history record as the data layer writes it
    entry = HistoryEntry(at="2026-03-02T10:15:00Z", actor="ada", action="payment recorded", from_="Unpaid",
                         to="Paid", amount=Decimal("12.50"), currency="USD")
    rec = mappers.history_record("o1", entry, 2)
    # WHEN it is read
    found = StreamImages().history({"pk": rec.pk, "sk": rec.sk}, image(rec.serialize()))
    # THEN it is the entry, its order, and a source unique to the record
    assert found is not None
    order_id, read, source = found
    assert (order_id, read) == ("o1", entry)
    assert source.key == f"o1#{rec.sk}" and source.written_ns == int(rec.sk.split("#")[2][:20])
    assert StreamImages().history({"pk": "ORDER#o1", "sk": "ITEM#i"}, {"kind": "item"}) is None


def test_a_credit_ledger_entrys_image_is_read_as_a_credit_move() -> None:
    # GIVEN the image of a ledger entry (the format of the client's credit ledger records)
    sk = "CREDIT#2026-03-02T10:15:00Z#00000000000000000077001abcd"
    raw = {"pk": "CLIENT#c1", "sk": sk, "kind": "credit_entry", "client_id": "c1", "at": "2026-03-02T10:15:00Z",
           "amount": Decimal("-10.00"), "reason": "payment CR-7 of invoice inv-o1", "ref": "inv-o1", "actor": "ada"}
    # WHEN it is read THEN it is the move, with a source unique to it
    found = StreamImages().credit_move({"pk": "CLIENT#c1", "sk": sk}, raw)
    assert found is not None
    move, source = found
    assert (move.client_id, move.amount, move.ref, move.actor) == ("c1", Decimal("-10.00"), "inv-o1", "ada")
    assert source == (f"c1#{sk}", 77)
    assert StreamImages().credit_move({"pk": "CLIENT#c1", "sk": "CLIENT"}, {"kind": "client"}) is None


# -- merging the shards of a page --------------------------------------------------------------


def stored(minute: int, order_id: str) -> tuple[str, Any]:
    at = (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
    entry = ActivityEntry(at=at, actor="a", type=T.NOTE, action="note added", source=f"{order_id}#{minute}",
                          written_ns=minute, keep_until=datetime(2030, 1, 1, tzinfo=UTC), order_id=order_id)
    sk = keys.activity_sk(at, minute, entry.source)
    return sk, mappers.activity_record(entry, "p", sk, indexed=False)


def test_a_page_holds_only_what_every_shard_was_read_down_to_and_goes_on_from_there() -> None:
    # GIVEN a shard read down to minute 20 with more below, and one read whole (minutes 25..10)
    cut = [stored(m, "a") for m in (23, 22, 21, 20)]
    whole = [stored(m, "b") for m in (25, 18, 10)]
    # WHEN a page of 10 is merged
    page = _merge([(cut, cut[-1][0]), (whole, None)], 10)
    # THEN it stops at minute 20 (what the cut shard holds below is unknown) and goes on from there
    assert [e.source for e in page.entries] == ["b#25", "a#23", "a#22", "a#21", "a#20"]
    assert page.last_position == cut[-1][0]
    # WHEN the page is full before that THEN it goes on from its last entry
    full = _merge([(cut, cut[-1][0]), (whole, None)], 2)
    assert [e.source for e in full.entries] == ["b#25", "a#23"] and full.last_position == cut[0][0]
    # WHEN every shard was read whole THEN there is no next page
    assert _merge([(whole, None)], 10).last_position is None
