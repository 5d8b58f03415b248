"""The local stack's reading of template.yaml and its schedule timer, without any service."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.local import template_wiring as tw
from infra.local.schedules import Expression, LocalSchedule, ScheduleExpressionError, ScheduleRunner

TEMPLATE: dict[str, Any] = {
    "Parameters": {"StatusShards": {"Type": "Number", "Default": 8}},
    "Globals": {"Function": {"Timeout": 29, "MemorySize": 512, "Environment": {"Variables": {
        "TABLE_NAME": {"Ref": "Table"}, "STATUS_SHARDS": {"Ref": "StatusShards"}}}}},
    "Resources": {
        "BulkQueue": {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": {"Fn::Sub": "${AWS::StackName}-bulk"}, "VisibilityTimeout": 180,
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": "BulkDLQ.Arn"}, "maxReceiveCount": 3}}},
        "BulkDLQ": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1209600}},
        "BulkStatusFunction": {"Type": "AWS::Serverless::Function", "Properties": {
            "CodeUri": "functions/bulk_status/", "Handler": "app.handler", "Timeout": 60,
            "Environment": {"Variables": {
                "BULK_QUEUE_URL": {"Ref": "BulkQueue"},
                "JWKS": {"Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}/jwks"},
                "SECRET": "{{resolve:secretsmanager:orderdesk:SecretString:key}}"}},
            "Events": {"Bulk": {"Type": "SQS", "Properties": {
                "Queue": {"Fn::GetAtt": "BulkQueue.Arn"}, "BatchSize": 10}}}}},
        "CleanupFunction": {"Type": "AWS::Serverless::Function", "Properties": {
            "CodeUri": "functions/cleanup", "Handler": "app.handler",
            "Events": {"Sweep": {"Type": "ScheduleV2", "Properties": {
                "ScheduleExpression": "rate(15 minutes)", "State": "DISABLED"}}}}},
    },
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# template.yaml --------------------------------------------------------------------------------


def test_queues_come_dead_letter_queue_first_with_attributes_and_redrive() -> None:
    # GIVEN a queue whose redrive policy points at a DLQ declared after it
    # WHEN the template's queues are read
    queues = tw.queues_in(TEMPLATE)

    # THEN the DLQ comes first, names resolve, and the redrive carries the template's count
    assert [q.logical_id for q in queues] == ["BulkDLQ", "BulkQueue"]
    dlq, bulk = queues
    assert (dlq.name, dlq.attributes) == ("orderdesk-BulkDLQ", {"MessageRetentionPeriod": "1209600"})
    assert (bulk.name, bulk.dead_letter_queue, bulk.max_receive_count) == ("orderdesk-bulk", "BulkDLQ", 3)
    assert bulk.attributes == {"VisibilityTimeout": "180"}
    assert json.loads(tw.redrive_policy(bulk, "arn:dlq")) == {"deadLetterTargetArn": "arn:dlq", "maxReceiveCount": 3}


def test_functions_map_code_uri_and_handler_to_a_module_path() -> None:
    functions = tw.functions_in(TEMPLATE)

    assert functions["BulkStatusFunction"].handler == "functions.bulk_status.app.handler"
    assert functions["CleanupFunction"].handler == "functions.cleanup.app.handler"
    assert (functions["BulkStatusFunction"].timeout_seconds, functions["CleanupFunction"].timeout_seconds) == (60, 29)
    sources = tw.event_sources_in(functions, "SQS")
    assert [(s.function.logical_id, s.target) for s in sources] == [("BulkStatusFunction", "BulkQueue")]


def test_environment_keeps_what_resolves_locally_and_drops_what_only_aws_has() -> None:
    # GIVEN the local queue and table
    resolver = tw.Resolver.for_template(TEMPLATE)
    resolver.refs.update({"Table": "orderdesk", "BulkQueue": "http://moto/123/orderdesk-bulk"})

    # WHEN the functions' environment is resolved
    env = tw.function_environment(tw.functions_in(TEMPLATE, resolver), resolver)

    # THEN refs become local values, parameters their defaults; Cognito and secrets are left out
    assert env == {"TABLE_NAME": "orderdesk", "STATUS_SHARDS": "8",
                   "BULK_QUEUE_URL": "http://moto/123/orderdesk-bulk"}
    assert tw.resource_variables(tw.functions_in(TEMPLATE, resolver), resolver) == {"TABLE_NAME", "BULK_QUEUE_URL"}


def test_a_disabled_schedule_is_seen_as_disabled() -> None:
    (source,) = tw.event_sources_in(tw.functions_in(TEMPLATE), "ScheduleV2")
    assert tw.schedule_enabled(source.properties) is False
    assert tw.schedule_enabled({"Enabled": True}) and tw.schedule_enabled({})


# schedule expressions -------------------------------------------------------------------------


@pytest.mark.parametrize(("expression", "after", "expected"), [
    ("rate(15 minutes)", "2026-03-01T10:07:30", "2026-03-01T10:22:30"),
    ("rate(1 hour)", "2026-03-01T10:07:00", "2026-03-01T11:07:00"),
    ("rate(2 days)", "2026-03-01T10:07:00", "2026-03-03T10:07:00"),
    ("cron(0 3 * * ? *)", "2026-03-01T10:07:00", "2026-03-02T03:00:00"),
    ("cron(*/20 * * * ? *)", "2026-03-01T10:07:00", "2026-03-01T10:20:00"),
    ("cron(30 9 ? * MON-FRI *)", "2026-02-27T09:30:00", "2026-03-02T09:30:00"),  # Friday → Monday
    ("cron(0 0 1 JAN,JUL ? *)", "2026-03-01T00:00:00", "2026-07-01T00:00:00"),
    ("cron(15 12 ? * 1 *)", "2026-03-01T12:15:00", "2026-03-08T12:15:00"),  # 1 = Sunday, strictly after
])
def test_next_run_of_rate_and_cron(expression: str, after: str, expected: str) -> None:
    assert Expression.parse(expression).next_after(at(after)) == at(expected)


def test_cron_in_a_time_zone() -> None:
    # 03:00 in New York is 08:00 UTC in winter
    next_run = Expression.parse("cron(0 3 * * ? *)").next_after(at("2026-01-10T12:00:00"),
                                                                 tw_zone("America/New_York"))
    assert next_run == at("2026-01-11T08:00:00")


def tw_zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


@pytest.mark.parametrize("bad", ["rate(0 minutes)", "rate(5 weeks)", "cron(0 3 * *)", "cron(0 3 L * ? *)",
                                 "cron(0 3 ? * 6#3 *)", "cron(0 3 15W * ? *)",
                                 "cron(61 * * * ? *)", "at(2026-01-01T00:00:00)"])
def test_expressions_this_runner_cannot_evaluate_are_refused(bad: str) -> None:
    with pytest.raises(ScheduleExpressionError):
        Expression.parse(bad)


# events and the runner -------------------------------------------------------------------------


def schedule(**kwargs: Any) -> LocalSchedule:
    defaults: dict[str, Any] = {"name": "cleanup-hourly", "expression": Expression.parse("rate(1 hour)"),
                                "handler": "x.y", "function_name": "orderdesk-cleanup"}
    return LocalSchedule(**{**defaults, **kwargs})


def test_event_is_schedulers_default_notification_without_input() -> None:
    event = schedule().event(at("2026-03-01T10:00:00"))

    assert event["source"] == "aws.scheduler" and event["detail-type"] == "Scheduled Event"
    assert event["time"] == "2026-03-01T10:00:00Z"
    assert event["resources"] == ["arn:aws:scheduler:us-east-1:123456789012:schedule/default/cleanup-hourly"]


def test_event_is_the_input_with_scheduler_context_attributes() -> None:
    s = schedule(input='{"task": "sweep", "at": "<aws.scheduler.scheduled-time>", "n": "<aws.scheduler.attempt-number>"}')
    assert s.event(at("2026-03-01T10:00:00")) == {"task": "sweep", "at": "2026-03-01T10:00:00Z", "n": "1"}
    rule = schedule(kind="Schedule")
    assert rule.event(at("2026-03-01T10:00:00"))["source"] == "aws.events"


def test_runner_fires_when_due_and_survives_a_failing_run() -> None:
    # GIVEN a clock that moves 20 minutes at every read, and a function failing once
    now = [at("2026-03-01T10:00:00")]
    calls: list[Any] = []
    done = threading.Event()

    def clock() -> datetime:
        now[0] += timedelta(minutes=20)
        return now[0]

    def invoke(s: LocalSchedule, event: Any) -> None:
        calls.append(event)
        if len(calls) == 1:
            raise RuntimeError("table busy")
        if len(calls) == 3:
            done.set()

    runner = ScheduleRunner([schedule(), schedule(name="off", enabled=False)], invoke, clock=clock,
                           max_wait=0.001)

    # WHEN it runs
    runner.start()
    assert done.wait(5)
    runner.stop()

    # THEN it fired three times, the disabled one never, and the failure did not stop it
    assert [ok for _, _, ok in runner.runs][:3] == [False, True, True]
    assert {name for name, _, _ in runner.runs} == {"cleanup-hourly"}
    assert all(e["source"] == "aws.scheduler" for e in calls)
