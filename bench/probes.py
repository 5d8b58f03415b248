"""botocore event hooks that watch every DynamoDB request of this process.

pynamodb builds one botocore client per model class, each from a botocore session of its own
(`pynamodb.connection.base.Connection.session`, made by `botocore.session.get_session`), and
boto3 (Powertools' idempotency layer, the raw floors) makes its sessions with the same
function. `install()` wraps that function so every session made afterwards carries the hooks,
and its clients copy them when they are created:

* `provide-client-params.dynamodb` (the call is issued) to `response-received.dynamodb` (each
  HTTP answer, retries included): the time window of each request, so `RequestLog.waves()` can
  count sequential round trips (requests whose windows overlap, such as the parallel shard
  queries of a list page, form one wave);
* `provide-client-params.dynamodb` also sets ReturnConsumedCapacity=TOTAL on every operation that
  takes it, and `after-call.dynamodb` sums the ConsumedCapacity of each answer (`CapacityMeter`).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

_CAPACITY_OPERATIONS = {
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
    "BatchWriteItem", "TransactGetItems", "TransactWriteItems",
}
_READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}


@dataclass
class Request:
    operation: str
    start: float
    end: float


@dataclass
class RequestLog:
    """HTTP requests to DynamoDB while recording."""

    requests: list[Request] = field(default_factory=list)

    def waves(self) -> int:
        """Sequential round trips: requests whose time windows overlap (directly or through a
        chain of others) count once."""
        count, reach = 0, float("-inf")
        for r in sorted(self.requests, key=lambda r: r.start):
            if r.start > reach:
                count += 1
            reach = max(reach, r.end)
        return count

    def operations(self) -> dict[str, int]:
        return dict(Counter(r.operation for r in self.requests))


@dataclass
class CapacityMeter:
    """Consumed read and write request units, as DynamoDB reports them."""

    read_units: float = 0.0
    write_units: float = 0.0
    requests: int = 0
    by_operation: Counter[str] = field(default_factory=Counter)
    sqs_requests: Counter[str] = field(default_factory=Counter)
    failed_conditions: int = 0  # single-item writes refused by their condition, billed one unit each

    def add(self, operation: str, consumed: Any) -> None:
        entries = consumed if isinstance(consumed, list) else [consumed]
        for c in entries:
            if not isinstance(c, dict):
                continue
            total = float(c.get("CapacityUnits") or 0.0)
            read, write = c.get("ReadCapacityUnits"), c.get("WriteCapacityUnits")
            if read is None and write is None:
                read, write = (total, 0.0) if operation in _READS else (0.0, total)
            self.read_units += float(read or 0.0)
            self.write_units += float(write or 0.0)
            self.by_operation[operation] += float(read or 0.0) + float(write or 0.0)


class _Probe:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self.logs: list[RequestLog] = []
        self.meters: list[CapacityMeter] = []
        self.no_capacity: Counter[str] = Counter()  # answers that carried no ConsumedCapacity

    # -- hooks -----------------------------------------------------------------------------------

    def quiet(self) -> bool:
        return bool(getattr(self._local, "quiet", False))

    def provide_params(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self._local.start = time.perf_counter()  # the request's window opens when it is issued
        if self.meters and not self.quiet() and model.name in _CAPACITY_OPERATIONS and params.get("ReturnConsumedCapacity") != "INDEXES":
            params["ReturnConsumedCapacity"] = "TOTAL"

    def response_received(self, event_name: str = "", **_: Any) -> None:
        end = time.perf_counter()
        start = getattr(self._local, "start", end)
        if self.logs and not self.quiet():
            op = event_name.rsplit(".", 1)[-1]
            with self._lock:
                for log in self.logs:
                    log.requests.append(Request(op, start, end))

    def after_call(self, parsed: Any, model: Any, **_: Any) -> None:
        if not self.meters or model.name not in _CAPACITY_OPERATIONS or self.quiet():
            return
        consumed = parsed.get("ConsumedCapacity") if isinstance(parsed, dict) else None
        code = ((parsed.get("Error") or {}).get("Code") if isinstance(parsed, dict) else None) or ""
        with self._lock:
            for meter in self.meters:
                meter.requests += 1
                if consumed:
                    meter.add(model.name, consumed)
                elif code == "ConditionalCheckFailedException":
                    # AWS bills a write whose condition failed (at least one unit); the error
                    # answer carries no ConsumedCapacity
                    meter.add(model.name, {"CapacityUnits": 1.0})
                    meter.failed_conditions += 1
                else:
                    self.no_capacity[model.name if not code else f"{model.name}:{code}"] += 1

    def sqs_request(self, event_name: str = "", **_: Any) -> None:
        """SQS requests made by the code under measurement (not by the local event-source pollers,
        whose polling Lambda does in AWS at a fixed cost, nor by the benchmark itself)."""
        if self.meters and not self.quiet() and not threading.current_thread().name.startswith("sqs-poller"):
            with self._lock:
                for meter in self.meters:
                    meter.sqs_requests[event_name.rsplit(".", 1)[-1]] += 1

    def register(self, session: Any) -> Any:
        session.register("provide-client-params.dynamodb", self.provide_params)
        session.register("response-received.dynamodb", self.response_received)
        session.register("after-call.dynamodb", self.after_call)
        session.register("before-send.sqs", self.sqs_request)
        return session


PROBE = _Probe()
_installed = False


def install() -> None:
    """Hook every botocore session made from now on (call before the first client exists)."""
    global _installed
    if _installed:
        return
    import boto3
    import botocore.session
    import pynamodb.connection.base as pynamodb_base

    original = botocore.session.get_session

    def get_session(env_vars: Any = None) -> Any:
        return PROBE.register(original(env_vars))

    botocore.session.get_session = get_session
    pynamodb_base.get_session = get_session  # imported by name there
    boto3.DEFAULT_SESSION = None  # a default session made before now would lack the hooks
    _installed = True


class record:
    """`with record() as log:` — the DynamoDB requests made meanwhile, from any thread."""

    def __enter__(self) -> RequestLog:
        self.log = RequestLog()
        with PROBE._lock:
            PROBE.logs.append(self.log)
        return self.log

    def __exit__(self, *exc: object) -> None:
        with PROBE._lock:
            PROBE.logs.remove(self.log)


class meter:
    """`with meter() as m:` — the capacity consumed meanwhile, from any thread."""

    def __enter__(self) -> CapacityMeter:
        self.meter = CapacityMeter()
        with PROBE._lock:
            PROBE.meters.append(self.meter)
        return self.meter

    def __exit__(self, *exc: object) -> None:
        with PROBE._lock:
            PROBE.meters.remove(self.meter)


class unmetered:
    """`with unmetered():` — requests of this thread are neither recorded nor metered (the
    benchmark's own polling)."""

    def __enter__(self) -> None:
        self.before = PROBE.quiet()
        PROBE._local.quiet = True

    def __exit__(self, *exc: object) -> None:
        PROBE._local.quiet = self.before
