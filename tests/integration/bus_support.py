"""What the order-event tests read the bus with, and how they break it.

* `BusTap`: an event bus in moto's EventBridge with a rule sending every `source: orderdesk` event
  to an SQS queue, as an integrator would subscribe; `received()` drains that queue.
* `FaultyEventBridge`: an HTTP proxy on 127.0.0.1 in front of moto that, while told to, refuses
  chosen PutEvents entries (an `ErrorCode` in the answer, as EventBridge's partial failures) or
  whole calls (a 500), forwarding the rest; it counts every entry it saw.
* `schema_of(detail_type)`: the JSON Schema of docs/events/ a detail must satisfy."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3

from orderdesk.services.projections.events import schema_name

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events"


@cache
def schema_of(detail_type: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{schema_name(detail_type)}.json").read_text())  # type: ignore[no-any-return]


def validate_detail(event: dict[str, Any]) -> None:
    """The event's detail satisfies its detail-type's published schema (raises when not)."""
    import jsonschema

    schema = schema_of(event["detail-type"])
    jsonschema.validators.validator_for(schema)(schema, format_checker=jsonschema.FormatChecker()).validate(
        event["detail"])


class BusTap:
    """A fresh bus and an SQS queue that its rule sends every OrderDesk event to."""

    def __init__(self, endpoint: str) -> None:
        self.events = boto3.client("events", endpoint_url=endpoint, region_name="us-east-1")
        self.sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
        suffix = uuid.uuid4().hex[:8]
        self.bus = f"orderdesk-test-{suffix}"
        self.events.create_event_bus(Name=self.bus)
        self.queue_url = self.sqs.create_queue(QueueName=f"events-{suffix}")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"]
        self.events.put_rule(Name=f"all-{suffix}", EventBusName=self.bus,
                             EventPattern=json.dumps({"source": ["orderdesk"]}))
        self.events.put_targets(Rule=f"all-{suffix}", EventBusName=self.bus, Targets=[{"Id": "queue", "Arn": arn}])

    def received(self) -> list[dict[str, Any]]:
        """Every event delivered since the last call, in the order the queue gives them."""
        out: list[dict[str, Any]] = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = got.get("Messages", [])
            if not messages:
                return out
            out += [json.loads(m["Body"]) for m in messages]
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])


EntryRule = Callable[[dict[str, Any]], bool]


class FaultyEventBridge:
    """moto's EventBridge behind a proxy that fails what it is told to."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.refuse: EntryRule | None = None  # entries answered with an ErrorCode, not forwarded
        self.fail_calls = 0  # the next calls answered 500 InternalFailure as a whole
        self.seen: list[dict[str, Any]] = []  # every PutEvents entry that reached the proxy
        self.refused: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, reply = proxy.answer(dict(self.headers), body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if headers.get("X-Amz-Target") != "AWSEvents.PutEvents":
            return self.forward(headers, body)
        request = json.loads(body)
        entries = request["Entries"]
        with self._lock:
            self.seen += entries
            if self.fail_calls > 0:
                self.fail_calls -= 1
                return 500, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": "InternalFailure"}, \
                    json.dumps({"__type": "InternalFailure", "message": "injected"}).encode()
            refused = [i for i, e in enumerate(entries) if self.refuse is not None and self.refuse(e)]
            self.refused += [entries[i] for i in refused]
        passed = [e for i, e in enumerate(entries) if i not in refused]
        results: list[dict[str, Any]] = []
        if passed:
            status, reply_headers, reply = self.forward(headers, json.dumps({**request, "Entries": passed}).encode())
            if status != 200:
                return status, reply_headers, reply
            results = json.loads(reply)["Entries"]
        answer, taken = [], iter(results)
        for i in range(len(entries)):
            answer.append({"ErrorCode": "InternalFailure", "ErrorMessage": "injected"} if i in refused else next(taken))
        failed = sum(1 for a in answer if "ErrorCode" in a)
        return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(
            {"FailedEntryCount": failed, "Entries": answer}).encode()

    def forward(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        passed = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")}
        request = urllib.request.Request(self.upstream, data=body, headers=passed, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return resp.status, {"Content-Type": resp.headers.get("Content-Type", "")}, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, {"Content-Type": exc.headers.get("Content-Type", "")}, exc.read()
