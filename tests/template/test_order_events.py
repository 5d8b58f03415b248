"""The order events in template.yaml: one bus, only the order stream's function may put on it
(and only on it), it knows the bus by EVENT_BUS_NAME, and every rule on the bus parks what it
cannot deliver in a dead-letter queue, with alarms on that queue and on failed deliveries."""

from __future__ import annotations

from typing import Any

from tests.template import support

BUSES = support.resources("AWS::Events::EventBus")
RULES = support.resources("AWS::Events::Rule")
ALARMS = [a["Properties"] for a in support.resources("AWS::CloudWatch::Alarm").values()]


def roles_allowing(action: str) -> dict[str, list[Any]]:
    """{role: the resources of its statements allowing `action`}, after the SAM transform."""
    out: dict[str, list[Any]] = {}
    for lid, res in support.transformed()["Resources"].items():
        if res["Type"] != "AWS::IAM::Role":
            continue
        for policy in res["Properties"].get("Policies", []):
            found = policy["PolicyDocument"]["Statement"]
            for statement in found if isinstance(found, list) else [found]:
                actions = statement.get("Action", [])
                if statement.get("Effect") == "Allow" and action in (actions if isinstance(actions, list) else [actions]):
                    resources = statement["Resource"]
                    out.setdefault(lid, []).extend(resources if isinstance(resources, list) else [resources])
    return out


def test_the_order_stream_function_alone_puts_events_and_on_the_orderdesk_bus_only() -> None:
    # GIVEN the template's buses and roles
    assert list(BUSES) == ["OrderDeskBus"]

    # THEN exactly one role may PutEvents, the order stream's, on that bus and nothing else
    assert roles_allowing("events:PutEvents") == {"OrderStreamFunctionRole": [{"Fn::GetAtt": ["OrderDeskBus", "Arn"]}]}
    # and its function is told the bus's name
    function = support.functions()["OrderStreamFunction"]
    assert function["Environment"]["Variables"]["EVENT_BUS_NAME"] == {"Ref": "OrderDeskBus"}
    assert support.logical_id(function["Role"]) == "OrderStreamFunctionRole"


def test_every_rule_on_the_bus_parks_undeliverable_events_and_alarms() -> None:
    rules = {lid: r["Properties"] for lid, r in RULES.items()
             if support.logical_id(r["Properties"].get("EventBusName")) == "OrderDeskBus"}
    assert rules, "the template has no example rule on OrderDeskBus"
    for lid, rule in rules.items():
        for target in rule["Targets"]:
            # GIVEN each target of the rule: bounded retries, then a dead-letter queue of the template
            dlq = support.logical_id(target["DeadLetterConfig"]["Arn"])
            assert dlq in support.resources(support.QUEUE), (lid, target)
            assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 86400
            # THEN the queue's depth alarms, and EventBridge may send to it from this rule only
            depth = [a for a in ALARMS if a["MetricName"] == "ApproximateNumberOfMessagesVisible"
                     and any(support.logical_id(d["Value"]) == dlq for d in a["Dimensions"])]
            assert depth and all(a["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in depth), dlq
            policies = [p["Properties"] for p in support.resources("AWS::SQS::QueuePolicy").values()
                        if any(support.logical_id(q) == dlq for q in p["Properties"]["Queues"])]
            (statement,) = [s for p in policies for s in p["PolicyDocument"]["Statement"]]
            assert statement["Principal"] == {"Service": "events.amazonaws.com"}
            assert support.logical_id(statement["Condition"]["ArnEquals"]["aws:SourceArn"]) == lid
        # and the rule's failed deliveries alarm (a custom bus's rule metrics carry both dimensions)
        failed = [a for a in ALARMS if a["Namespace"] == "AWS/Events" and a["MetricName"] == "FailedInvocations"]
        names = [{d["Name"]: d["Value"] for d in a["Dimensions"]} for a in failed]
        assert {"EventBusName": {"Ref": "OrderDeskBus"}, "RuleName": rule["Name"]} in names, lid
