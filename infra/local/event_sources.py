"""Lambda's event source mappings, locally: poll the SQS queue (moto) and the table's stream
(DynamoDB Local) and call the project's handlers with the event shapes, batch sizes and
partial-failure semantics that Lambda uses.

* `SqsPoller`: ReceiveMessage (up to `batch_size`), Lambda's SQS event, the handler; deletes the
  messages that are not in `batchItemFailures` (none when the handler raised) and leaves the rest
  to become visible again, so the queue's redrive policy parks poison messages in its DLQ.
* `DynamoDBStreamPoller`: DescribeTable → LatestStreamArn, then DescribeStream, GetShardIterator
  and GetRecords per shard (parents before children), Lambda's DynamoDB stream event, records
  filtered by the template's FilterCriteria patterns. A failed batch is retried from its first
  failed record (ReportBatchItemFailures) up to `max_retries` times, then handed to
  `on_failure` (the on-failure destination) and skipped, as Lambda does.

Both have `run_once()` for deterministic tests and `start()`/`stop()` for a background loop.
Endpoints come from botocore's AWS_ENDPOINT_URL_* variables, as everywhere else."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from infra.local.moto_server import DEFAULT_ACCOUNT_ID, LambdaContext

LOG = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]
Pattern = Mapping[str, Any]


def _context(function_name: str, region: str, timeout: float) -> LambdaContext:
    return LambdaContext(
        function_name=function_name,
        invoked_function_arn=f"arn:aws:lambda:{region}:{DEFAULT_ACCOUNT_ID}:function:{function_name}",
        memory_limit_in_mb=512,
        timeout_seconds=timeout,
    )


def _failed_ids(response: Any) -> set[str] | None:
    """The itemIdentifiers a handler reported failed; None when it reported nothing."""
    if not isinstance(response, Mapping) or "batchItemFailures" not in response:
        return None
    return {str(f.get("itemIdentifier")) for f in response.get("batchItemFailures") or []}


SHARD_REFRESH_SECONDS = 5.0


class _Loop:
    """start()/stop(): call run_once() on a daemon thread until stopped."""

    name = "poller"
    idle_seconds = 0.5
    # an idle poller waits longer each empty pass, up to this, and polls at once after work: a
    # stack left running (a test session's, a user's overnight) costs next to no CPU
    max_idle_seconds = 1.0

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def _loop(self) -> None:
        idle = self.idle_seconds
        while not self._stop.is_set():
            try:
                handled = self.run_once()
            except Exception:
                LOG.exception("%s: poll failed", self.name)
                handled = 0
            if handled:
                idle = self.idle_seconds
            else:
                self._stop.wait(idle)
                idle = min(idle * 2, max(self.max_idle_seconds, self.idle_seconds))

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None


# -- SQS -------------------------------------------------------------------------------------------


class SqsPoller(_Loop):
    """Lambda's SQS event source mapping (standard queue, ReportBatchItemFailures)."""

    def __init__(self, queue_url: str, handler: Handler, batch_size: int = 10, *,
                 function_name: str = "bulk-status", wait_seconds: int = 1,
                 visibility_timeout: int | None = None, timeout: float = 60.0, region: str | None = None) -> None:
        super().__init__()
        self.queue_url = queue_url
        self.handler = handler
        self.batch_size = max(1, batch_size)
        self.function_name = function_name
        self.wait_seconds = wait_seconds
        self.visibility_timeout = visibility_timeout  # None: the queue's own
        self.timeout = timeout
        self.name = f"sqs-poller-{function_name}"
        self.idle_seconds = 0.1
        self._region = region
        self._client: Any = None
        self._arn: str | None = None

    @property
    def sqs(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs", region_name=self._region)
        return self._client

    @property
    def queue_arn(self) -> str:
        if self._arn is None:
            attrs = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
            self._arn = attrs["Attributes"]["QueueArn"]
        return self._arn

    def _receive(self, wait_seconds: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while len(messages) < self.batch_size:
            kwargs: dict[str, Any] = {
                "QueueUrl": self.queue_url,
                "MaxNumberOfMessages": min(10, self.batch_size - len(messages)),
                "WaitTimeSeconds": wait_seconds if not messages else 0,
                "AttributeNames": ["All"],
                "MessageAttributeNames": ["All"],
            }
            if self.visibility_timeout is not None:
                kwargs["VisibilityTimeout"] = self.visibility_timeout
            got = self.sqs.receive_message(**kwargs).get("Messages", [])
            seen = {m["MessageId"] for m in messages}
            fresh = [m for m in got if m["MessageId"] not in seen]
            messages.extend(fresh)
            if len(fresh) < kwargs["MaxNumberOfMessages"]:
                break  # the queue has no more visible now (or gave one back again)
        return messages

    def event_of(self, messages: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        region = self.sqs.meta.region_name
        return {"Records": [{
            "messageId": msg["MessageId"],
            "receiptHandle": msg["ReceiptHandle"],
            "body": msg["Body"],
            "attributes": dict(msg.get("Attributes", {})),
            "messageAttributes": {
                name: {"stringValue": a.get("StringValue"), "binaryValue": _b64(a.get("BinaryValue")),
                       "stringListValues": [], "binaryListValues": [], "dataType": a["DataType"]}
                for name, a in msg.get("MessageAttributes", {}).items()
            },
            "md5OfBody": msg.get("MD5OfBody") or hashlib.md5(msg["Body"].encode()).hexdigest(),  # noqa: S324
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": region,
        } for msg in messages]}

    def run_once(self, wait_seconds: int | None = None) -> int:
        """One batch: receive, invoke, delete what succeeded. Returns how many were received."""
        messages = self._receive(self.wait_seconds if wait_seconds is None else wait_seconds)
        if not messages:
            return 0
        event = self.event_of(messages)
        region = self.sqs.meta.region_name
        try:
            failed = _failed_ids(self.handler(event, _context(self.function_name, region, self.timeout)))
        except Exception:
            LOG.exception("%s: the handler failed; the whole batch will be redelivered", self.function_name)
            return len(messages)
        done = [m for m in messages if failed is None or m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start:start + 10])])
        return len(messages)

    def drain(self, max_rounds: int = 1000) -> int:
        """Run batches until the queue gives nothing (messages in flight are not waited for)."""
        total = 0
        for _ in range(max_rounds):
            n = self.run_once(wait_seconds=0)
            if not n:
                break
            total += n
        return total


def _b64(value: bytes | None) -> str | None:
    return base64.b64encode(value).decode() if value is not None else None


# -- DynamoDB streams ------------------------------------------------------------------------------


def matches(pattern: Pattern, event: Any) -> bool:
    """Lambda event filtering, the subset OrderDesk's templates use: nested keys; a list of
    allowed literals; and the operators `exists`, `prefix` and `anything-but`."""
    if not isinstance(event, Mapping):
        return False
    for key, want in pattern.items():
        present = key in event
        value = event.get(key)
        if isinstance(want, Mapping):
            if not present or not matches(want, value):
                return False
            continue
        if not isinstance(want, list):
            raise ValueError(f"filter pattern value for {key!r} must be an object or a list")
        if not any(_match_value(rule, present, value) for rule in want):
            return False
    return True


def _match_value(rule: Any, present: bool, value: Any) -> bool:
    if isinstance(rule, Mapping):
        if "exists" in rule:
            return present == bool(rule["exists"])
        if not present:
            return False
        if "prefix" in rule:
            return isinstance(value, str) and value.startswith(rule["prefix"])
        if "anything-but" in rule:
            but = rule["anything-but"]
            return value not in (but if isinstance(but, list) else [but])
        raise ValueError(f"unsupported filter operator {sorted(rule)}")
    return present and value == rule


def template_filter_patterns(function_id: str, template: Path | None = None) -> list[dict[str, Any]]:
    """The FilterCriteria patterns of a function's stream or queue events in template.yaml, so the
    local stack and the tests filter exactly as the deployed event source mapping does."""
    from infra.local.table import TEMPLATE, load_template

    props = load_template(template or TEMPLATE)["Resources"][function_id]["Properties"]
    patterns: list[dict[str, Any]] = []
    for event in (props.get("Events") or {}).values():
        for f in ((event.get("Properties") or {}).get("FilterCriteria") or {}).get("Filters", []):
            patterns.append(json.loads(f["Pattern"]))
    return patterns


@dataclass
class _Shard:
    shard_id: str
    parent: str | None
    iterator: str | None = None
    last_sequence: str | None = None
    closed: bool = False  # read to its end: a closed shard with nothing more
    start: str = "TRIM_HORIZON"


class DynamoDBStreamPoller(_Loop):
    """Lambda's DynamoDB stream event source mapping, on DynamoDB Local."""

    def __init__(self, table_name: str, handler: Handler, filter: Pattern | Sequence[Pattern] | None = None,
                 batch_size: int = 100, *, function_name: str = "fraud-screening",
                 starting_position: str = "TRIM_HORIZON", max_retries: int = 3, retry_delay: float = 0.5,
                 on_failure: Callable[[list[dict[str, Any]], str], None] | None = None,
                 timeout: float = 60.0, region: str | None = None, checkpoint: Path | None = None) -> None:
        super().__init__()
        self.table_name = table_name
        # where the last record read of each shard is kept, as Lambda's event source mapping keeps
        # it: a restart goes on after it (records written just before a stop are read, none twice)
        self.checkpoint = checkpoint
        self.handler = handler
        self.patterns: list[Pattern] = [] if filter is None else (
            [filter] if isinstance(filter, Mapping) else list(filter))
        self.batch_size = max(1, batch_size)
        self.function_name = function_name
        if starting_position not in ("TRIM_HORIZON", "LATEST"):
            raise ValueError("starting_position must be TRIM_HORIZON or LATEST")
        self.starting_position = starting_position
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self.on_failure = on_failure or self._log_failure
        self.timeout = timeout
        self.name = f"stream-poller-{function_name}"
        self._region = region
        self._ddb: Any = None
        self._streams: Any = None
        self._stream_arn: str | None = None
        self._shards: dict[str, _Shard] = {}
        self._seen_first = False
        self._refreshed_at = 0.0
        self._shard_closed = False
        self.failed_batches: list[list[dict[str, Any]]] = []

    def _clients(self) -> tuple[Any, Any]:
        if self._ddb is None:
            import boto3

            self._ddb = boto3.client("dynamodb", region_name=self._region)
            self._streams = boto3.client("dynamodbstreams", region_name=self._region)
        return self._ddb, self._streams

    def _refresh(self) -> None:
        ddb, streams = self._clients()
        arn = ddb.describe_table(TableName=self.table_name)["Table"].get("LatestStreamArn")
        if arn is None:
            raise RuntimeError(f"table {self.table_name} has no stream")
        if arn != self._stream_arn:
            self._stream_arn, self._shards, self._seen_first = arn, {}, False
            kept = self._load_checkpoint(arn)
            if kept is not None:
                # read before: the shards it names go on after their last record; others are newer
                self._seen_first = True
                for sid, (parent, last, closed) in kept.items():
                    self._shards[sid] = _Shard(sid, parent, last_sequence=last, closed=closed)
        kwargs: dict[str, Any] = {"StreamArn": arn}
        while True:
            desc = streams.describe_stream(**kwargs)["StreamDescription"]
            for shard in desc.get("Shards", []):
                sid = shard["ShardId"]
                if sid not in self._shards:
                    # the shards there when polling began start at the starting position; shards
                    # born later are read from their beginning
                    start = self.starting_position if not self._seen_first else "TRIM_HORIZON"
                    self._shards[sid] = _Shard(sid, shard.get("ParentShardId"), start=start)
            last = desc.get("LastEvaluatedShardId")
            if not last:
                break
            kwargs["ExclusiveStartShardId"] = last
        self._seen_first = True

    def _load_checkpoint(self, arn: str) -> dict[str, tuple[str | None, str | None, bool]] | None:
        if self.checkpoint is None or not self.checkpoint.exists():
            return None
        try:
            data = json.loads(self.checkpoint.read_text())
        except (OSError, ValueError):
            LOG.warning("%s: unreadable checkpoint %s, reading from %s", self.name, self.checkpoint,
                        self.starting_position)
            return None
        if data.get("stream") != arn:  # another table (a new data directory): its own start
            return None
        return {sid: (v.get("parent"), v.get("last"), bool(v.get("closed")))
                for sid, v in (data.get("shards") or {}).items()}

    def _save_checkpoint(self) -> None:
        if self.checkpoint is None:
            return
        data = {"stream": self._stream_arn, "shards": {
            s.shard_id: {"parent": s.parent, "last": s.last_sequence, "closed": s.closed}
            for s in self._shards.values() if s.last_sequence or s.closed}}
        tmp = self.checkpoint.with_suffix(".tmp")
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.checkpoint)

    def _iterator(self, shard: _Shard) -> str:
        _, streams = self._clients()
        if shard.iterator:
            return shard.iterator
        kwargs: dict[str, Any] = {"StreamArn": self._stream_arn, "ShardId": shard.shard_id}
        if shard.last_sequence:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=shard.last_sequence)
        else:
            kwargs["ShardIteratorType"] = shard.start
        shard.iterator = streams.get_shard_iterator(**kwargs)["ShardIterator"]
        return shard.iterator

    def run_once(self) -> int:
        """Read every shard to its current end and deliver; returns how many records were read."""
        from botocore.exceptions import ClientError

        _, streams = self._clients()
        # the shards change only when one closes (DynamoDB rolls them over every few hours) or
        # the table is new: list them again then, or every few seconds, not on every pass
        now = time.monotonic()
        if not self._shards or now - self._refreshed_at > SHARD_REFRESH_SECONDS or self._shard_closed:
            self._refresh()
            self._refreshed_at, self._shard_closed = now, False
        read = 0
        for shard in list(self._shards.values()):
            parent = self._shards.get(shard.parent) if shard.parent else None
            if shard.closed or (parent is not None and not parent.closed):
                continue
            while True:
                try:
                    resp = streams.get_records(ShardIterator=self._iterator(shard), Limit=1000)
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") in ("ExpiredIteratorException",
                                                                     "TrimmedDataAccessException"):
                        shard.iterator = None
                        continue
                    raise
                records = resp.get("Records", [])
                shard.iterator = resp.get("NextShardIterator")
                if records:
                    read += len(records)
                    self._deliver([self._lambda_record(r) for r in records])
                    shard.last_sequence = records[-1]["dynamodb"]["SequenceNumber"]
                if shard.iterator is None:
                    shard.closed = self._shard_closed = True
                if records or shard.closed:
                    self._save_checkpoint()
                if shard.closed:
                    break
                if not records:
                    break
        return read

    def _lambda_record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        ddb = dict(record["dynamodb"])
        created = ddb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            ddb["ApproximateCreationDateTime"] = float(int(created.timestamp()))
        ddb = _jsonable(ddb)
        return {
            "eventID": record.get("eventID"),
            "eventName": record.get("eventName"),
            "eventVersion": record.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": record.get("awsRegion") or self._clients()[0].meta.region_name,
            "dynamodb": ddb,
            "eventSourceARN": self._stream_arn,
        }

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        wanted = [r for r in records if not self.patterns or any(matches(p, r) for p in self.patterns)]
        for start in range(0, len(wanted), self.batch_size):
            self._invoke_with_retries(wanted[start:start + self.batch_size])

    def _invoke_with_retries(self, batch: list[dict[str, Any]]) -> None:
        region = self._clients()[0].meta.region_name
        error = ""
        for attempt in range(self.max_retries + 1):
            try:
                failed = _failed_ids(self.handler({"Records": batch},
                                                  _context(self.function_name, region, self.timeout)))
            except Exception as exc:
                LOG.exception("%s: the handler failed on a batch of %d", self.function_name, len(batch))
                failed, error = {r["dynamodb"]["SequenceNumber"] for r in batch}, f"{type(exc).__name__}: {exc}"
            if not failed:
                return
            # Lambda checkpoints before the first failed record and retries from there
            first = next((i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] in failed), 0)
            batch = batch[first:]
            error = error or f"{len(failed)} record(s) reported failed"
            if attempt < self.max_retries and self.retry_delay:
                time.sleep(self.retry_delay * 2**attempt)
        self.failed_batches.append(batch)
        self.on_failure(batch, error)

    def _log_failure(self, batch: list[dict[str, Any]], error: str) -> None:
        seqs = [r["dynamodb"]["SequenceNumber"] for r in batch]
        LOG.error("%s: gave up on %d record(s) (%s … %s) after %d retries: %s", self.function_name, len(batch),
                  seqs[0], seqs[-1], self.max_retries, error)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    return value

