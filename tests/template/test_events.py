"""Event sources of template.yaml: SQS consumers with partial failures and a dead-letter queue
after 3 receives, the stream triggers (fraud screening: new order records; the order views:
every change of an order record) with bisect, bounded retries and an on-failure destination, and
the schedules. Iterates over whatever events exist."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.template import support

FUNCTIONS = support.functions()
QUEUES = {lid: r.get("Properties", {}) for lid, r in support.resources(support.QUEUE).items()}


def events(kind: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [(fid, name, e.get("Properties", {})) for fid, props in FUNCTIONS.items()
            for name, e in props.get("Events", {}).items() if e["Type"] == kind]


def matches(pattern: Any, event: Any) -> bool:
    """EventBridge-style pattern matching, for the subset Lambda filters use here: objects of
    lists of exact values or `{"prefix": ...}` rules (and nested objects)."""
    if isinstance(pattern, dict):
        return isinstance(event, dict) and all(k in event and matches(v, event[k]) for k, v in pattern.items())
    if isinstance(pattern, list):
        return any(isinstance(event, str) and event.startswith(rule["prefix"]) if isinstance(rule, dict)
                   else event == rule for rule in pattern)
    raise AssertionError(f"pattern form not handled here: {pattern!r}")


def stream_record(event_name: str, **image: Any) -> dict[str, Any]:
    """A DynamoDB stream record as Lambda filters it (Keys, and NewImage or for a removal
    OldImage, in DynamoDB JSON)."""
    def attr(v: Any) -> dict[str, Any]:
        return {"BOOL": v} if isinstance(v, bool) else {"S": v}
    record: dict[str, Any] = {"eventName": event_name, "dynamodb": {
        "Keys": {k: attr(image[k]) for k in ("pk", "sk") if k in image}}}
    record["dynamodb"]["OldImage" if event_name == "REMOVE" else "NewImage"] = {k: attr(v) for k, v in image.items()}
    return record


SQS_EVENTS = events("SQS")
# which events of an order record each stream reader is for: fraud screening screens new orders,
# the order views count every change (and removal)
SEES = {
    "FraudScreeningFunction": {"INSERT": True, "MODIFY": False, "REMOVE": False},
    "OrderStreamFunction": {"INSERT": True, "MODIFY": True, "REMOVE": True},
}
# whether a reader sees the other records of an order's partition (items, invoice, history)
PARTITION_RECORDS = {"FraudScreeningFunction": False, "OrderStreamFunction": True}
# whether a reader sees a client record change (the search index takes a client's new words)
CLIENT_RECORDS = {"FraudScreeningFunction": False, "OrderStreamFunction": True}
STREAM_EVENTS = events("DynamoDB")


@pytest.mark.parametrize(("function", "event", "props"), SQS_EVENTS, ids=[f"{f}.{e}" for f, e, _ in SQS_EVENTS])
def test_sqs_consumer_reports_partial_failures_and_parks_poison_messages(function: str, event: str, props: dict) -> None:  # type: ignore[type-arg]
    # GIVEN an SQS event source and its queue
    queue = QUEUES[support.logical_id(props["Queue"])]

    # THEN one bad message fails alone, and after 3 receives it goes to a dead-letter queue
    assert props.get("FunctionResponseTypes") == ["ReportBatchItemFailures"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 3
    assert support.logical_id(queue["RedrivePolicy"]["deadLetterTargetArn"]) in QUEUES
    # and a batch still running is never handed to another consumer (Lambda's advice: 6x)
    assert queue["VisibilityTimeout"] >= 6 * FUNCTIONS[function]["Timeout"]


@pytest.mark.parametrize(("function", "event", "props"), STREAM_EVENTS,
                         ids=[f"{f}.{e}" for f, e, _ in STREAM_EVENTS])
def test_stream_trigger_sees_its_order_records_and_parks_what_keeps_failing(function: str, event: str,
                                                                          props: dict) -> None:  # type: ignore[type-arg]
    # GIVEN the stream event source of the table
    assert props["Stream"] == {"Fn::GetAtt": ["Table", "StreamArn"]}
    patterns = [json.loads(f["Pattern"]) for f in props["FilterCriteria"]["Filters"]]

    def passes(record: dict[str, Any]) -> bool:
        return any(matches(p, record) for p in patterns)

    # WHEN records of every kind go by THEN the function sees exactly the order records it is for
    order = {"pk": "ORDER#o1", "sk": "ORDER", "kind": "order", "skip_fraud_check": False}
    seen = {name: passes(stream_record(name, **order)) for name in ("INSERT", "MODIFY", "REMOVE")}
    assert seen == SEES[function], function
    for sk, kind in (("ITEM#i1", "item"), ("INVOICE", "invoice"), ("HIST#1#1", "history")):
        for name in ("INSERT", "MODIFY", "REMOVE"):
            got = passes(stream_record(name, pk="ORDER#o1", sk=sk, kind=kind))
            assert got is PARTITION_RECORDS[function], (function, sk, name)
    # and client records only where it keeps the search index
    client = passes(stream_record("MODIFY", pk="CLIENT#c1", sk="CLIENT", kind="client"))
    assert client is CLIENT_RECORDS[function], function
    # and never the records the views write themselves, nor jobs or the search index's postings
    for pk, sk, kind in (("STATS#1", "ORDER_STATUS", "stats"), ("COUNTED#o1", "COUNTED", "counted"),
                         ("BULKJOB#j1", "JOB", "bulk_job"), ("QW#ada", "2026-01-01T00:00:00Z#o1", "posting"),
                         ("QT#ad", "ada", "term")):
        assert not passes(stream_record("MODIFY", pk=pk, sk=sk, kind=kind)), (function, pk)
    # and a failing batch is split to find the bad record, retried a bounded number of times,
    # then parked in a queue of the template
    assert props["BisectBatchOnFunctionError"] is True
    assert 0 <= props["MaximumRetryAttempts"] <= 10
    on_failure = props["DestinationConfig"]["OnFailure"]
    assert on_failure["Type"] == "SQS" and support.logical_id(on_failure["Destination"]) in QUEUES


def test_the_filter_check_can_fail() -> None:
    pattern = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["order"]}}}}
    assert matches(pattern, stream_record("INSERT", kind="order"))
    assert not matches(pattern, stream_record("INSERT", kind="item"))
    prefixed = {"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "ORDER#"}]}}}}
    assert matches(prefixed, stream_record("MODIFY", pk="ORDER#o1", sk="ITEM#i"))
    assert not matches(prefixed, stream_record("MODIFY", pk="STATS#1", sk="ORDER_STATUS"))


def test_schedules_run_the_cleanup_rules() -> None:
    schedules = events("ScheduleV2") + events("Schedule")
    for function, _, props in schedules:
        assert props["ScheduleExpression"].startswith(("rate(", "cron(")), props
        json.loads(props.get("Input", "{}"))
        assert function in FUNCTIONS
