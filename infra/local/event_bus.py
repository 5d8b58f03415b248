"""The order events, locally: the event buses of template.yaml in moto's EventBridge, and every
event put on them appended to ``.local/events.jsonl``, one JSON line each, so that

    tail -f .local/events.jsonl

shows them as the portal or the API makes them. In AWS the template's example rule writes them
to a log group; locally a rule of the stack's own (not in the template) sends every ``source:
orderdesk`` event of each bus to an SQS queue of moto, and `EventsFile` (the SQS poller of the
event sources, with a handler that appends) drains that queue into the file. Each line is the
event as a rule's target receives it: ``id``, ``time``, ``source``, ``detail-type``,
``detail``...

moto keeps buses, rules and queues in memory: `create_event_buses` runs at every start, after
the queues and before the template's environment is applied (``EVENT_BUS_NAME: !Ref
OrderDeskBus``); the file is kept across restarts."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.local import template_wiring as tw
from infra.local.event_sources import SqsPoller

LOG = logging.getLogger(__name__)

EVENTS_FILE = "events.jsonl"
SOURCE = "orderdesk"
_SINK = f"{tw.STACK_NAME}-local-events-file"  # the local rule's and queue's name


def create_event_buses(template: Mapping[str, Any], resolver: tw.Resolver) -> dict[str, str]:
    """Each AWS::Events::EventBus of the template in moto (its ``Ref``: the name, ``Arn``, ``Name``
    resolvable from here on); {logical id: name}."""
    import boto3

    events = boto3.client("events", region_name=tw.REGION)
    made = {}
    for logical_id, res in tw.resources_of_type(template, "AWS::Events::EventBus").items():
        props = res.get("Properties") or {}
        name = str(resolver.try_resolve(props.get("Name")) or f"{tw.STACK_NAME}-{logical_id}")
        arn = events.create_event_bus(Name=name)["EventBusArn"]
        resolver.refs[logical_id] = name
        resolver.attributes.update({(logical_id, "Arn"): arn, (logical_id, "Name"): name})
        made[logical_id] = name
    if made:
        LOG.info("event buses: %s", ", ".join(sorted(made.values())))
    return made


class EventsFile(SqsPoller):
    """Every OrderDesk event of the given buses, appended to `path` as it is put."""

    def __init__(self, path: Path, buses: list[str]) -> None:
        import boto3

        sqs = boto3.client("sqs", region_name=tw.REGION)
        events = boto3.client("events", region_name=tw.REGION)
        queue_url = sqs.create_queue(QueueName=_SINK)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for bus in buses:
            events.put_rule(Name=_SINK, EventBusName=bus, EventPattern=json.dumps({"source": [SOURCE]}),
                            Description="every OrderDesk event into .local/events.jsonl (local stack only)")
            events.put_targets(Rule=_SINK, EventBusName=bus, Targets=[{"Id": "events-file", "Arn": queue_arn}])
        super().__init__(queue_url, self.append, batch_size=10, function_name="events-file",
                         wait_seconds=1, region=tw.REGION)
        self.path = path
        self._write = threading.Lock()

    def append(self, event: dict[str, Any], context: Any) -> None:
        """The SQS poller's handler: each message is one event, as the rule delivered it."""
        lines = [json.dumps(json.loads(r["body"]), separators=(",", ":")) + "\n" for r in event["Records"]]
        with self._write, self.path.open("a", encoding="utf-8") as out:
            out.writelines(lines)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling, then write what is still queued (the stream's last events)."""
        super().stop(timeout)
        try:
            self.drain()
        except Exception:  # moto may be gone already; the events are lost with its memory either way
            LOG.warning("could not write the last order events to %s", self.path, exc_info=True)


def events_file(data_dir: Path, buses: Mapping[str, str]) -> EventsFile | None:
    """The poller that writes ``<data_dir>/events.jsonl``, once the buses exist (None: there is none)."""
    if not buses:
        return None
    path = data_dir / EVENTS_FILE
    path.touch(exist_ok=True)
    return EventsFile(path, sorted(buses.values()))
