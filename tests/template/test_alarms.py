"""Alarms: errors and throttles of every function, failed executions of every state machine,
depth of every queue where failures are parked; each notifies the alarm topic."""

from __future__ import annotations

from typing import Any

import pytest

from tests.template import support

ALARMS = [a["Properties"] for a in support.resources("AWS::CloudWatch::Alarm").values()]


def alarms_on(namespace: str, metric: str, dimension: str, logical_id: str) -> list[dict[str, Any]]:
    return [
        a for a in ALARMS
        if a["Namespace"] == namespace and a["MetricName"] == metric
        and any(d["Name"] == dimension and support.logical_id(d["Value"]) == logical_id for d in a["Dimensions"])
    ]


def parked_failure_queues() -> set[str]:
    """Dead-letter queues (a redrive target) and on-failure destinations of event sources."""
    queues = set()
    for res in support.resources(support.QUEUE).values():
        redrive = res.get("Properties", {}).get("RedrivePolicy")
        if redrive:
            queues.add(support.logical_id(redrive["deadLetterTargetArn"]))
    for props in support.functions().values():
        for event in props.get("Events", {}).values():
            on_failure = event.get("Properties", {}).get("DestinationConfig", {}).get("OnFailure")
            if on_failure:
                queues.add(support.logical_id(on_failure["Destination"]))
    return {q for q in queues if q is not None}


@pytest.mark.parametrize("logical_id", sorted(support.functions()))
@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_function_has_an_alarm(logical_id: str, metric: str) -> None:
    found = alarms_on("AWS/Lambda", metric, "FunctionName", logical_id)
    assert found, f"no {metric} alarm for {logical_id}"
    assert all(a["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in found)


@pytest.mark.parametrize("logical_id", sorted(support.state_machines()))
def test_state_machine_has_a_failed_executions_alarm(logical_id: str) -> None:
    found = alarms_on("AWS/States", "ExecutionsFailed", "StateMachineArn", logical_id)
    assert found, f"no ExecutionsFailed alarm for {logical_id}"
    assert all(a["AlarmActions"] == [{"Ref": "AlarmTopic"}] and a["Threshold"] <= 1 for a in found)


def test_every_queue_of_parked_failures_has_a_depth_alarm() -> None:
    queues = parked_failure_queues()
    assert "BulkDeadLetterQueue" in queues
    for queue in queues:
        found = alarms_on("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue)
        assert found and all(a["Threshold"] <= 1 for a in found), f"no depth alarm for {queue}"
