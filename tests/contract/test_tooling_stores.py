"""ExportStore, DailyStatsStore and the edits of ClientStore and DirectoryStore, on both stores: an
export moved on by the run that claimed it last and only while RUNNING; a happening counted once,
money summed exactly per currency, days read in a range; an edit written only over what it read,
never touching a client's balance or, unless given, a server's credentials."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from orderdesk.domain.errors import ConcurrentUpdate, NotFound
from orderdesk.domain.exports import RUNNING, Export
from orderdesk.domain.model import Server
from orderdesk.domain.stats import DailyEvent
from orderdesk.services.ports import Stores
from tests.contract.builders import AT, client

EXPIRES = datetime(2030, 1, 1, tzinfo=UTC)


def export(export_id: str = "e1") -> Export:
    return Export(id=export_id, status=RUNNING, filters={"status": "Fraud"}, created_at=AT, actor="ada")


def test_an_export_is_read_back_as_created_and_an_unknown_one_is_not_found(stores_impl: Stores) -> None:
    stores_impl.exports.create(export(), EXPIRES)
    got = stores_impl.exports.get("e1")
    assert (got.status, got.filters, got.rows, got.actor, got.updated_at, got.key) == (
        RUNNING, {"status": "Fraud"}, 0, "ada", AT, None)
    with pytest.raises(ConcurrentUpdate):
        stores_impl.exports.create(export(), EXPIRES)
    with pytest.raises(NotFound):
        stores_impl.exports.get("nope")


def test_only_the_run_holding_an_export_moves_it_on_and_only_while_it_runs(stores_impl: Stores) -> None:
    # GIVEN an export claimed by run a, which wrote 300 rows, then claimed by run b
    data = stores_impl.exports
    data.create(export(), EXPIRES)
    assert data.claim("e1", "a", "2024-05-01T10:00:01Z") is not None
    assert data.progress("e1", "a", 300, "2024-05-01T10:00:02Z") is True
    claimed = data.claim("e1", "b", "2024-05-01T10:00:03Z")
    # THEN b starts from 0 rows, a may no longer record anything, b may
    assert claimed is not None and (claimed.run, claimed.rows) == ("b", 0)
    assert data.progress("e1", "a", 400, AT) is False and data.finish("e1", "a", 400, "k-a", AT) is False
    assert data.fail("e1", "a", "boom", AT) is False
    assert data.finish("e1", "b", 350, "exports/e1/b.csv", "2024-05-01T10:00:09Z") is True
    done = data.get("e1")
    assert (done.status, done.rows, done.key, done.finished_at) == ("DONE", 350, "exports/e1/b.csv",
                                                                   "2024-05-01T10:00:09Z")
    # AND once DONE, nothing claims or fails it
    assert data.claim("e1", "c", AT) is None and data.fail("e1", None, "late", AT) is False
    assert data.get("e1").status == "DONE"


def test_an_export_no_run_holds_is_failed_by_anyone(stores_impl: Stores) -> None:
    stores_impl.exports.create(export("e2"), EXPIRES)
    assert stores_impl.exports.fail("e2", None, "could not start", AT) is True
    got = stores_impl.exports.get("e2")
    assert (got.status, got.error) == ("FAILED", "could not start")
    assert stores_impl.exports.claim("e2", "late", AT) is None


def test_a_happening_is_counted_once_with_its_money_per_currency(stores_impl: Stores) -> None:
    days = stores_impl.daily_stats
    events = [DailyEvent("o1:placed", "2024-05-01", "placed"),
              DailyEvent("o1:payment:t1", "2024-05-01", "payments", "USD", Decimal("10.10")),
              DailyEvent("o2:payment:t2", "2024-05-01", "payments", "USD", Decimal("0.20")),
              DailyEvent("o3:payment:t3", "2024-05-01", "payments", "EUR", Decimal("5.00")),
              DailyEvent("o1:refund:t4", "2024-05-03", "refunds", "USD", Decimal("10.10")),
              DailyEvent("o1:fraud:1", "2024-05-01", "fraud_check", decision="review"),
              DailyEvent("o1:action:a1:failed", "2024-05-02", "failed_actions")]
    # WHEN each is counted, then each again
    assert [days.count(e) for e in events] == [True] * len(events)
    assert [days.count(e) for e in events] == [False] * len(events)
    # THEN each day holds them once, oldest first, money exact per currency
    first, second, third = days.days("2024-05-01", "2024-05-03")
    assert (first.date, first.placed, first.payments) == ("2024-05-01", 1, 3)
    assert first.payment_amounts == {"USD": Decimal("10.30"), "EUR": Decimal("5.00")}
    assert first.fraud_checks == {"accept": 0, "review": 1, "reject": 0, "error": 0}
    assert (second.date, second.failed_actions, second.placed) == ("2024-05-02", 1, 0)
    assert (third.refunds, third.refund_amounts) == (1, {"USD": Decimal("10.10")})
    assert days.days("2024-05-02", "2024-05-02") == [second]
    assert days.days("2024-06-01", "2024-06-30") == []


def test_an_unknown_counter_is_refused(stores_impl: Stores) -> None:
    with pytest.raises(ValueError):
        stores_impl.daily_stats.count(DailyEvent("x", "2024-05-01", "visits"))


def test_a_client_edit_is_written_over_what_it_read_only_and_keeps_the_balance(stores_impl: Stores) -> None:
    # GIVEN a client with a credit balance
    ada = client(company="Analytical Engines", credit="12.50")
    stores_impl.clients.put_client(ada)
    # WHEN she is edited from what was read
    edited = stores_impl.clients.update_client(ada, replace(ada, last_name="King", company=None,
                                                            credit_balance=Decimal("999.00")))
    # THEN the fields change, the balance does not, and the list finds her by her new name
    assert (edited.last_name, edited.company, edited.credit_balance) == ("King", None, Decimal("12.50"))
    assert stores_impl.clients.get_client(ada.id) == edited
    assert [c.id for c in stores_impl.clients.list_clients("king")] == [ada.id]
    # AND an edit from the old read is refused, one of a client nobody stored is NotFound
    with pytest.raises(ConcurrentUpdate):
        stores_impl.clients.update_client(ada, replace(ada, first_name="Augusta"))
    with pytest.raises(NotFound):
        stores_impl.clients.update_client(client(client_id="ghost"), client(client_id="ghost"))


def test_a_server_edit_keeps_its_credentials_unless_given(stores_impl: Stores) -> None:
    hook = Server(id="s1", name="hooks", module="webhook", url="https://hooks.example.com/p", created_at=AT,
                  has_credentials=True)
    stores_impl.directory.put_server(hook, "enc-1")
    renamed = stores_impl.directory.update_server(hook, replace(hook, name="Provisioning hooks"), None)
    assert (renamed.name, renamed.has_credentials) == ("Provisioning hooks", True)
    assert stores_impl.directory.server_credentials("s1") == "enc-1"
    keyed = stores_impl.directory.update_server(renamed, replace(renamed, url=None, module="none"), "enc-2")
    assert (keyed.module, keyed.url) == ("none", None)
    assert stores_impl.directory.server_credentials("s1") == "enc-2"
    assert [s.name for s in stores_impl.directory.list_servers()] == ["Provisioning hooks"]
    with pytest.raises(ConcurrentUpdate):
        stores_impl.directory.update_server(hook, replace(hook, name="x"), None)
    with pytest.raises(NotFound):
        stores_impl.directory.update_server(replace(hook, id="s9"), replace(hook, id="s9"), None)


def test_days_far_apart_are_read_in_one_range(stores_impl: Stores) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for n in (0, 100, 365):
        day = (start + timedelta(days=n)).date().isoformat()
        stores_impl.daily_stats.count(DailyEvent(f"o{n}:placed", day, "placed"))
    assert [d.date for d in stores_impl.daily_stats.days("2024-01-01", "2024-12-31")] == [
        "2024-01-01", "2024-04-10", "2024-12-31"]


def test_happenings_counted_together_are_counted_once_as_one_by_one(stores_impl: Stores) -> None:
    days = stores_impl.daily_stats
    # GIVEN a happening counted already
    assert days.count(DailyEvent("o0:placed", "2024-05-01", "placed"))
    # WHEN a batch counts it again with 120 new placings over two days (more than one transaction
    # holds), two payments, a fraud check, and one of the placings named twice
    placed = [DailyEvent(f"o{i}:placed", "2024-05-01" if i % 2 else "2024-05-02", "placed") for i in range(1, 121)]
    batch = [DailyEvent("o0:placed", "2024-05-01", "placed"), *placed, placed[0],
             DailyEvent("o1:payment:t1", "2024-05-01", "payments", "USD", Decimal("10.10")),
             DailyEvent("o2:payment:t2", "2024-05-01", "payments", "USD", Decimal("0.25")),
             DailyEvent("o1:fraud:1", "2024-05-02", "fraud_check", decision="accept")]
    counted, left = days.count_many(batch)
    # THEN each new happening is counted once, the old one not again, and none is left over
    assert left == []
    assert sorted(e.id for e in counted) == sorted({e.id for e in batch} - {"o0:placed"})
    first, second = days.days("2024-05-01", "2024-05-02")
    assert (first.placed, first.payments, first.payment_amounts) == (61, 2, {"USD": Decimal("10.35")})
    assert (second.placed, second.fraud_checks["accept"]) == (60, 1)
    # AND the batch again (a redelivery) counts nothing
    assert days.count_many(batch) == ([], [])
    assert days.days("2024-05-01", "2024-05-02") == [first, second]
