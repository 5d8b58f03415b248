"""What invokes the functions locally, wired from template.yaml's event sources: the SQS queue
and the table's stream polled and fed to their functions with Lambda's event shapes
(``infra.local.event_sources``), and a timer firing the scheduled functions
(``infra.local.schedules``), mirrored in moto's Scheduler so the stack looks as it does in AWS.

Each function takes the list of problems the stack reports, and adds to it what it could not
wire (a handler that does not import, a queue that is not there) instead of failing the start."""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.local import template_wiring as tw
from infra.local.env import ACCOUNT_ID, REGION, TABLE_NAME
from infra.local.schedules import Expression, LocalSchedule, ScheduleExpressionError, ScheduleRunner

LOG = logging.getLogger(__name__)

SCHEDULER_ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/orderdesk-local-scheduler"

Handler = Callable[[Any, Any], Any]


def import_handler(dotted: str) -> Handler:
    module_name, _, attribute = dotted.rpartition(".")
    handler: Handler = getattr(importlib.import_module(module_name), attribute)
    return handler


def handler_or_none(dotted: str, problems: list[str]) -> Handler | None:
    """The handler, or None when its module fails to import: a problem to show (in the banner
    and stack.json) while the rest of the stack runs."""
    try:
        return import_handler(dotted)
    except Exception as exc:
        problems.append(f"{dotted}: {type(exc).__name__}: {exc}")
        LOG.exception("cannot import %s", dotted)
        return None


def check_event_sources(functions: dict[str, tw.FunctionDef]) -> list[str]:
    """Say plainly which of SPEC §4's event sources template.yaml does not declare."""
    problems = []
    for kind, what in (("SQS", "bulk status changes are queued but never processed"),
                       ("DynamoDB", "new orders are not screened for fraud"),
                       ("ScheduleV2", "no scheduled cleanup runs")):
        types = ("ScheduleV2", "Schedule") if kind == "ScheduleV2" else (kind,)
        if not tw.event_sources_in(functions, *types):
            problems.append(f"template.yaml declares no {kind} event source: {what}")
    return problems


def pollers_for(functions: dict[str, tw.FunctionDef], resolver: tw.Resolver, problems: list[str], *,
                from_start: bool = False, checkpoints: Path | None = None) -> list[Any]:
    """A poller per SQS and DynamoDB event source, not started yet (``start_pollers``); the stream's
    read from its start when ``from_start`` (a table created by this start), else after the last
    record each stream function read before (kept in ``checkpoints``), else from now."""
    from infra.local.event_sources import DynamoDBStreamPoller, SqsPoller

    pollers: list[Any] = []
    for source in tw.event_sources_in(functions, "SQS"):
        handler = handler_or_none(source.function.handler, problems)
        queue_url = resolver.refs.get(source.target or "")
        if handler is None:
            continue
        if queue_url is None:
            problems.append(f"{source.function.logical_id}.{source.name}: queue {source.target} not found")
            continue
        poller: Any = SqsPoller(queue_url, handler, int(source.properties.get("BatchSize", 10)),
                                function_name=source.function.name, timeout=source.function.timeout_seconds,
                                region=REGION)
        pollers.append(poller)
        LOG.info("SQS %s → %s (batch %d)", queue_url.rsplit("/", 1)[-1], source.function.handler, poller.batch_size)
    for source in tw.event_sources_in(functions, "DynamoDB"):
        handler = handler_or_none(source.function.handler, problems)
        if handler is None:
            continue
        props = source.properties
        patterns = [json.loads(f["Pattern"]) for f in (props.get("FilterCriteria") or {}).get("Filters", [])]
        retries = props.get("MaximumRetryAttempts")
        on_failure = _stream_failure_destination(props, resolver)
        kwargs: dict[str, Any] = {"function_name": source.function.name, "region": REGION,
                                  "timeout": source.function.timeout_seconds,
                                  # a new table's stream from its start (the demo data is counted by the
                                  # views); a restart goes on from its checkpoint
                                  "starting_position": "TRIM_HORIZON" if from_start else "LATEST"}
        if isinstance(retries, int) and retries >= 0:
            kwargs["max_retries"] = retries
        if on_failure is not None:
            kwargs["on_failure"] = on_failure
        if checkpoints is not None:
            kwargs["checkpoint"] = checkpoints / f"{source.function.name}.json"
        poller = DynamoDBStreamPoller(TABLE_NAME, handler, patterns or None, int(props.get("BatchSize", 100)),
                                      **kwargs)
        pollers.append(poller)
        LOG.info("stream of %s → %s (batch %d, %d filter(s))", TABLE_NAME, source.function.handler,
                 poller.batch_size, len(patterns))
    return pollers


def start_pollers(pollers: list[Any]) -> None:
    for poller in pollers:
        if hasattr(poller, "starting_position"):
            poller.run_once()  # take the stream's position now, before the API takes writes
        poller.start()


def _stream_failure_destination(props: dict[str, Any],
                                resolver: tw.Resolver) -> Callable[[list[dict[str, Any]], str], None] | None:
    """The event's OnFailure SQS destination: Lambda sends it a record of the batch it gave up on."""
    destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    queue_id = tw.logical_id_of(destination)
    queue_url = resolver.refs.get(queue_id or "")
    if queue_url is None:
        return None

    def send(batch: list[dict[str, Any]], error: str) -> None:
        import boto3

        first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]
        body = {"requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 1},
                "responseContext": {"functionError": error},
                "DDBStreamBatchInfo": {"shardId": "local", "startSequenceNumber": first["SequenceNumber"],
                                       "endSequenceNumber": last["SequenceNumber"], "batchSize": len(batch),
                                       "streamArn": batch[0].get("eventSourceARN")}}
        boto3.client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))

    return send


def schedules_in(functions: dict[str, tw.FunctionDef], resolver: tw.Resolver,
                 problems: list[str]) -> list[LocalSchedule]:
    """The template's Schedule and ScheduleV2 events; one whose expression cannot be read is a problem."""
    out = []
    for source in tw.event_sources_in(functions, "ScheduleV2", "Schedule"):
        props = source.properties
        expression = props.get("ScheduleExpression") or props.get("Schedule")
        try:
            parsed = Expression.parse(str(resolver.resolve(expression)))
        except (ScheduleExpressionError, tw.Unresolvable) as exc:
            problems.append(f"schedule {source.function.logical_id}.{source.name}: {exc}")
            continue
        raw_input = resolver.try_resolve(props.get("Input")) if "Input" in props else None
        name = resolver.try_resolve(props.get("Name")) if "Name" in props else None
        out.append(LocalSchedule(
            name=str(name or f"{source.function.logical_id}{source.name}"),
            expression=parsed,
            handler=source.function.handler,
            function_name=source.function.name,
            input=raw_input if isinstance(raw_input, str) or raw_input is None else json.dumps(raw_input),
            kind=source.type,
            timezone=props.get("ScheduleExpressionTimezone"),
            enabled=tw.schedule_enabled(props),
            account_id=ACCOUNT_ID,
            region=REGION,
        ))
    return out


def mirror_schedules(schedules: list[LocalSchedule]) -> None:
    """The ScheduleV2 events in moto's Scheduler; moto never fires them: ``schedule_runner``'s timer does."""
    import boto3

    scheduler = boto3.client("scheduler")
    for schedule in schedules:
        if schedule.kind != "ScheduleV2":
            continue
        target: dict[str, Any] = {
            "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{schedule.function_name}",
            "RoleArn": SCHEDULER_ROLE_ARN,
        }
        if schedule.input is not None:
            target["Input"] = schedule.input
        try:
            scheduler.create_schedule(Name=schedule.name, ScheduleExpression=schedule.expression.text,
                                      FlexibleTimeWindow={"Mode": "OFF"}, Target=target,
                                      State="ENABLED" if schedule.enabled else "DISABLED")
        except Exception as exc:  # a mirror only: the runner fires the schedule either way
            LOG.warning("moto's Scheduler refused schedule %s: %s", schedule.name, exc)


def schedule_runner(schedules: list[LocalSchedule], functions: dict[str, tw.FunctionDef],
                    problems: list[str]) -> ScheduleRunner:
    """A timer (not started yet) firing each schedule whose handler imports, with the function's
    Lambda context."""
    from infra.local.moto_server import LambdaContext

    runnable: list[LocalSchedule] = []
    for schedule in schedules:
        if not isinstance(schedule.handler, str) or handler_or_none(schedule.handler, problems) is None:
            continue
        runnable.append(schedule)
        LOG.info("schedule %s: %s → %s%s", schedule.name, schedule.expression.text, schedule.handler,
                 "" if schedule.enabled else " (disabled)")
    memory = {f.name: (f.memory_mb, f.timeout_seconds) for f in functions.values()}

    def invoke(schedule: LocalSchedule, event: Any) -> Any:
        assert isinstance(schedule.handler, str)
        mb, timeout = memory.get(schedule.function_name, (512, 60.0))
        context = LambdaContext(
            function_name=schedule.function_name,
            invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{schedule.function_name}",
            memory_limit_in_mb=mb, timeout_seconds=timeout)
        LOG.info("schedule %s fires %s", schedule.name, schedule.function_name)
        return import_handler(schedule.handler)(event, context)

    return ScheduleRunner(runnable, invoke)
