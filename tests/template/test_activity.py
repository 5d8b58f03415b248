"""The activity log in template.yaml: the order stream function that keeps it sees every entry
of a client's credit ledger besides the records of orders' partitions, and never the log's own
records (which would only feed it back to itself); of a client's partition, the ledger's entries
and the client record (whose words the search index takes), nothing else."""

from __future__ import annotations

import json

from tests.template import support
from tests.template.test_events import matches, stream_record


def test_the_order_stream_sees_credit_ledger_entries_and_not_the_logs_own_records() -> None:
    # GIVEN the order stream function's stream filters
    props = support.functions()["OrderStreamFunction"]["Events"]["OrderChanges"]["Properties"]
    patterns = [json.loads(f["Pattern"]) for f in props["FilterCriteria"]["Filters"]]

    def passes(pk: str, sk: str, kind: str, event: str = "INSERT") -> bool:
        return any(matches(p, stream_record(event, pk=pk, sk=sk, kind=kind)) for p in patterns)

    # WHEN records go by THEN it sees a ledger entry and an order's history
    assert passes("CLIENT#c1", "CREDIT#2026-03-02T10:15:00Z#00000000000000000001", "credit_entry")
    assert passes("ORDER#o1", "HIST#2026-03-02T10:15:00Z#00000000000000000001", "history")
    # and the client record (the search index's), but not an activity entry, what a delete keeps,
    # or another record of a client's partition
    assert passes("CLIENT#c1", "CLIENT", "client", "MODIFY")
    assert not passes("CLIENT#c1", "CLIENTX", "client", "MODIFY")
    assert not passes("ACTIVITY#3", "2026-03-02T10:15:00Z#00000000000000000001#o1#HIST#x", "activity")
    assert not passes("DELETEDORDER#o1", "DELETION", "activity")
    assert not passes("PAYMENT#stripe#ch_1", "PAYMENT", "payment_guard")
