"""AWS, the one way in: SDK clients built on first use, and SDK failures as domain errors.

* `client(service)`: one boto3 client per service, built at its first call (never at import: the
  API's cold start pays for no client it does not use), kept for the process and rebuilt when the
  region or an `AWS_ENDPOINT_URL[_<SERVICE>]` setting changed. The endpoint is botocore's to
  read, as in AWS there is none; the local stack and the tests move it. `reset_clients()` forgets
  them all (the local stack at every start, the tests around a moved or restarted endpoint).
* `is_transient(exc)`: whether retrying may help: a throttle, a 5xx, a dropped or timed-out
  connection, from botocore or through pynamodb.
* `reraise(exc, what, unavailable=..., rejected=...)` and `translated(...)`: an SDK failure
  becomes `unavailable` (a TransientError: the workflows retry it, the queues redeliver it) when
  it is transient, else `rejected` when the caller gives one, else goes on as it is; always
  raised `from` the original, whose message says no more than its class and AWS's code.
* `aws_errors_are_transient(fn)`: the workflow steps' rule: every SDK failure of a step is
  retried (Step Functions bounds the attempts, then the step's Catch records the failure).

botocore, boto3 and pynamodb are imported when first needed, not with this module."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, NoReturn, TypeVar

from ..config import get_settings
from ..domain.errors import OrderDeskError, TransientError

F = TypeVar("F", bound=Callable[..., Any])


class StorageUnavailable(TransientError):
    """DynamoDB or another AWS service failed in a way worth retrying."""


# botocore's standard retry mode calls these throttles (botocore.retries.standard), with the
# "try again" answers of DynamoDB, SES and Step Functions whose status is not a 5xx.
_TRANSIENT_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
    "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown",
    "PriorRequestNotComplete", "EC2ThrottledException", "RequestTimeout", "RequestTimeoutException",
    "InternalServerError", "InternalFailure", "InternalServiceError", "ServiceUnavailable",
    "ServiceUnavailableException", "TransactionConflictException",
})
# a transaction's cancellation reasons that mean "not now" rather than "not so"
_TRANSIENT_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded"})

# S3 presigns with SigV4 (botocore's default for S3 may still be SigV2, which AWS has retired and
# whose URLs carry no X-Amz-Expires)
_CLIENT_CONFIG: dict[str, dict[str, Any]] = {"s3": {"signature_version": "s3v4"}}

_lock = threading.Lock()
_session: Any = None
_clients: dict[str, tuple[tuple[Any, ...], Any]] = {}


def client(service: str) -> Any:
    """The boto3 client of `service` ("stepfunctions", "sqs", "sesv2", ...), built on first use."""
    settings = get_settings()
    wanted = (settings.region, settings.aws_endpoints)
    with _lock:
        found = _clients.get(service)
        if found is None or found[0] != wanted:
            global _session
            if _session is None:
                import boto3.session

                # a session of our own: boto3's default one is not safe to build clients from
                # in several threads at once, and reset_clients() drops its cached credentials too
                _session = boto3.session.Session()
            options: dict[str, Any] = {}
            if service in _CLIENT_CONFIG:
                from botocore.config import Config

                options["config"] = Config(**_CLIENT_CONFIG[service])
            found = (wanted, _session.client(service, region_name=settings.region, **options))
            _clients[service] = found
        return found[1]


def reset_clients() -> None:
    """Forget every client (and what was built on one: idempotency stores, the secrets cache)."""
    global _session
    with _lock:
        _clients.clear()
        _session = None


# -- failures ------------------------------------------------------------------------------------


def sdk_errors() -> tuple[type[Exception], ...]:
    """The exceptions the SDKs raise (for an `except`: evaluated only when something is raised)."""
    from botocore.exceptions import BotoCoreError, ClientError
    from pynamodb.exceptions import PynamoDBException

    return BotoCoreError, ClientError, PynamoDBException


def error_code(exc: BaseException) -> str | None:
    """AWS's error code of a failed call (`ThrottlingException`, ...), through pynamodb too."""
    from botocore.exceptions import ClientError
    from pynamodb.exceptions import PynamoDBException

    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code")
        return str(code) if code else None
    if isinstance(exc, PynamoDBException):
        return exc.cause_response_code
    return None


def _status(exc: BaseException) -> int:
    from botocore.exceptions import ClientError
    from pynamodb.exceptions import PynamoDBException

    if isinstance(exc, PynamoDBException) and isinstance(exc.cause, ClientError):
        exc = exc.cause
    if isinstance(exc, ClientError):
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return 0


def is_transient(exc: BaseException) -> bool:
    """A throttle, a 429 or 5xx, or a connection that failed, dropped or timed out."""
    from botocore.exceptions import ConnectionError, HTTPClientError
    from pynamodb.exceptions import PynamoDBException, TransactGetError, TransactWriteError

    if isinstance(exc, ConnectionError | HTTPClientError):
        return True
    if error_code(exc) in _TRANSIENT_CODES:
        return True
    status = _status(exc)
    if status == 429 or status >= 500:
        return True
    if isinstance(exc, TransactWriteError | TransactGetError):
        return any(r is not None and r.code in _TRANSIENT_REASONS for r in exc.cancellation_reasons or [])
    if isinstance(exc, PynamoDBException) and exc.cause is not None and exc.cause is not exc:
        return is_transient(exc.cause)
    return False


def _describe(exc: BaseException) -> str:
    """What a translated error says: the class and AWS's code, never the request's content."""
    code = error_code(exc)
    return f"{type(exc).__name__} ({code})" if code else type(exc).__name__


def reraise(exc: BaseException, what: str, *, unavailable: type[TransientError] = StorageUnavailable,
            rejected: type[OrderDeskError] | None = None) -> NoReturn:
    """Raise the domain error for `exc` (call it in the `except` block that caught it): `unavailable`
    when retrying may help, else `rejected`, else `exc` itself. A domain error or anything that is
    not the SDK's goes on as it is."""
    if isinstance(exc, OrderDeskError) or not isinstance(exc, sdk_errors()):
        raise exc
    if is_transient(exc):
        raise unavailable(f"{what} unavailable: {_describe(exc)}") from exc
    if rejected is not None:
        raise rejected(f"{what} failed: {_describe(exc)}") from exc
    raise exc


@contextmanager
def translated(what: str, *, unavailable: type[TransientError] = StorageUnavailable,
               rejected: type[OrderDeskError] | None = None) -> Iterator[None]:
    """`with translated("SQS", ...):` the SDK failures of the block, as `reraise` says."""
    try:
        yield
    except Exception as exc:
        reraise(exc, what, unavailable=unavailable, rejected=rejected)


def aws_errors_are_transient(fn: F) -> F:
    """Every SDK failure in `fn` (throttling, a 5xx, a dropped connection, and also what retrying
    may not cure) is `StorageUnavailable`, raised from the original, so Step Functions retries it
    like any transient error and, once its attempts are spent, the step's Catch records it."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except OrderDeskError:
            raise
        except Exception as exc:
            if not isinstance(exc, sdk_errors()):
                raise
            raise StorageUnavailable(f"{type(exc).__name__}: {str(exc)[:300]}") from exc

    return wrapper  # type: ignore[return-value]
