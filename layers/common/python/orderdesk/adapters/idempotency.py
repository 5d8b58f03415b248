"""Idempotency through Powertools (DynamoDB persistence in the OrderDesk table).

The persistence layers are built on first use, never at import, on `aws.client("dynamodb")`;
a new client (`aws.reset_clients()`, a moved endpoint) gets new ones."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ..config import get_settings
from ..domain.errors import IdempotencyConflict, TransientError
from . import aws

_stores: dict[str, tuple[Any, Any]] = {}  # {table|scope: (the client it was built on, the layer)}
_lock = threading.Lock()


def persistence_store(scope: str) -> Any:
    """One Powertools DynamoDB persistence layer per scope (`api`, `refund`, ...)."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    settings = get_settings()
    client = aws.client("dynamodb")
    cache_key = f"{settings.table_name}|{scope}"
    with _lock:
        found = _stores.get(cache_key)
        if found is None or found[0] is not client:
            found = (client, DynamoDBPersistenceLayer(
                table_name=settings.table_name,
                key_attr="pk",
                sort_key_attr="sk",
                static_pk_value=f"IDEMPOTENCY#{scope}",
                expiry_attr="ttl",
                boto3_client=client,
            ))
            _stores[cache_key] = found
        return found[1]


def config(**kwargs: Any) -> Any:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    return IdempotencyConfig(expires_after_seconds=get_settings().idempotency_ttl_seconds, **kwargs)


def run_once(scope: str, key: str, payload_hash: str, fn: Callable[[], dict[str, Any]], *,
             lambda_context: Any = None) -> dict[str, Any]:
    """Run `fn` once per `key`; a repeat returns the first result. The same key with another
    payload raises IdempotencyConflict, as does a repeat while the first is still running. With
    `lambda_context` registered, a request whose invocation died holds its key only until the
    Lambda timeout (not for the whole record lifetime)."""
    from aws_lambda_powertools.utilities.idempotency import idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    cfg = config(event_key_jmespath="key", payload_validation_jmespath="payload", raise_on_no_idempotency_key=True)
    if lambda_context is not None and hasattr(lambda_context, "get_remaining_time_in_millis"):
        cfg.register_lambda_context(lambda_context)

    @idempotent_function(data_keyword_argument="request", persistence_store=persistence_store(scope), config=cfg)
    def _once(request: dict[str, str]) -> dict[str, Any]:
        return fn()

    try:
        return _once(request={"key": key, "payload": payload_hash})
    except IdempotencyValidationError as exc:
        raise IdempotencyConflict("this Idempotency-Key was used with another request body") from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise IdempotencyConflict("a request with this Idempotency-Key is still in progress") from exc


class StillInProgress(TransientError):
    """Another invocation with the same key is running, or died less than its timeout ago.
    Step Functions retries it (its class name is the error name) until that record expires."""


def once_per_key(scope: str, data: dict[str, Any], fn: Callable[[dict[str, Any]], dict[str, Any]], *,
                 lambda_context: Any = None) -> dict[str, Any]:
    """Run `fn(data)` once per `data` (all of it is the key) with Powertools' `idempotent_function`:
    a repeat returns the stored result. With `lambda_context` registered, an invocation that died
    holds the key only until its Lambda timeout, then a retry may run it again."""
    from aws_lambda_powertools.utilities.idempotency import idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    cfg = config(raise_on_no_idempotency_key=True)
    if lambda_context is not None:
        cfg.register_lambda_context(lambda_context)

    @idempotent_function(data_keyword_argument="data", persistence_store=persistence_store(scope), config=cfg)
    def _once(data: dict[str, Any]) -> dict[str, Any]:
        return fn(data)

    try:
        return _once(data=data)
    except IdempotencyAlreadyInProgressError as exc:
        raise StillInProgress(f"{scope} {sorted(data.items())} is already in progress") from exc
