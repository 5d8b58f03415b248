"""The table's plumbing: one connection (built on first use), transactions, what a failed
conditional write means, and every data module's SDK failures translated (`adapters.aws`)."""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from ...config import get_settings
from ...domain.errors import ConcurrentUpdate
from ..aws import reraise
from . import records

T = TypeVar("T")
TxOp = Callable[[TransactWrite], None]  # a part of a transaction, added by the module that knows it

_lock = threading.Lock()
_conn: tuple[tuple[str, str, str | None], Connection] | None = None


def connection() -> Connection:
    """The process's DynamoDB connection for the configured table, region and endpoint (the
    endpoint itself comes from botocore's AWS_ENDPOINT_URL_DYNAMODB, as in AWS there is none)."""
    global _conn
    settings = get_settings()
    key = (settings.table_name, settings.region, settings.dynamodb_endpoint)
    with _lock:
        if _conn is None or _conn[0] != key:
            records.bind_models()
            _conn = (key, Connection(region=settings.region, max_retry_attempts=3, connect_timeout_seconds=2,
                                     read_timeout_seconds=10, max_pool_connections=32))
        return _conn[1]


def table_name() -> str:
    return get_settings().table_name


def query_records(pk: str, sk_prefix: str | None = None, *, consistent: bool = True) -> Iterator[records.Record]:
    """Every record under a partition key (whose sort key starts with `sk_prefix`), each as its
    own record class: what `Record.query` reads, without the filter pynamodb adds to a query of a
    polymorphic class (`kind IN` every registered record class, 29 values), which DynamoDB
    evaluates on every item read though every record of the table is one of them (about 0.16 ms
    of a 1.5 ms read of an order's partition on DynamoDB Local)."""
    request: dict[str, Any] = {
        "TableName": table_name(), "ConsistentRead": consistent,
        "KeyConditionExpression": "pk = :pk" + (" AND begins_with(sk, :sk)" if sk_prefix is not None else ""),
        "ExpressionAttributeValues": {":pk": {"S": pk}, **({":sk": {"S": sk_prefix}} if sk_prefix is not None else {})},
    }
    while True:
        page = client().query(**request)
        for item in page.get("Items", []):
            yield records.Record.from_raw_data(item)
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def client() -> Any:
    """The botocore DynamoDB client, for the few requests pynamodb cannot shape (an UpdateItem
    that returns the item when its condition fails, a query of records of every class without a
    filter on their class)."""
    return connection().client


def transaction(client_request_token: str | None = None) -> TransactWrite:
    return TransactWrite(connection=connection(), client_request_token=client_request_token)


def condition_failed(exc: Exception) -> bool:
    """A conditional write (or a transaction's condition) was refused."""
    if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
        return True
    if isinstance(exc, TransactWriteError):
        return any(r is not None and r.code == "ConditionalCheckFailed" for r in exc.cancellation_reasons or [])
    return False


def edit_as_read(record: records.Record, fields: tuple[str, ...], before: Any, after: Any, actions: list[Action],
                 what: str, reread: Callable[[], Any]) -> None:
    """An operator's edit: `fields` of `after` written (a None removed) with `actions`, only if the
    stored record still holds those of `before`, as read. ConcurrentUpdate naming `what` when it
    changed meanwhile (re-read and merge again); `reread` raises NotFound when it is gone."""
    cls = type(record)
    condition = cls.pk.exists()
    for name in fields:
        attr, old, value = getattr(cls, name), getattr(before, name), getattr(after, name)
        condition &= attr == old if old is not None else attr.does_not_exist()
        actions.append(attr.set(value) if value is not None else attr.remove())
    try:
        record.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if condition_failed(exc):
            reread()
            raise ConcurrentUpdate(f"{what} changed meanwhile") from exc
        raise


def conflicted(exc: Exception) -> bool:
    """A transaction lost to another one writing the same item at the same moment."""
    if isinstance(exc, TransactWriteError):
        return any(r is not None and r.code == "TransactionConflict" for r in exc.cancellation_reasons or [])
    return False


def refused_item(reason: Any, sk: str) -> dict[str, Any] | None:
    """The item (DynamoDB JSON) one part of a refused transaction found when its condition failed,
    if it is a record with that sort key; only parts that ask for it (`return_values=ALL_OLD`)
    return it: they say why the transaction was refused (a client's credit, a payment guard)."""
    if reason is None or reason.code != "ConditionalCheckFailed" or not reason.raw_item:
        return None
    item: dict[str, Any] = reason.raw_item
    return item if item.get("sk", {}).get("S") == sk else None


def translated(cls: type[T]) -> type[T]:
    """Every public method of a data module's class: DynamoDB being busy or unreachable becomes
    `StorageUnavailable` (a TransientError: 503 with Retry-After through the API, retried by the
    workflows and the queues); every other error goes through as it is."""
    for name, fn in list(vars(cls).items()):
        if name.startswith("_") or not inspect.isfunction(fn):
            continue
        setattr(cls, name, _wrap(fn))
    return cls


def _wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen(*args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from fn(*args, **kwargs)
            except Exception as exc:
                reraise(exc, "DynamoDB")
        return gen

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            reraise(exc, "DynamoDB")
    return call
