"""SDK failures as domain errors: what the adapters' callers retry."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from ..domain.errors import OrderDeskError, TransientError

F = TypeVar("F", bound=Callable[..., Any])


class StorageUnavailable(TransientError):
    """DynamoDB or another AWS service failed in a way worth retrying."""


def aws_errors_are_transient(fn: F) -> F:
    """An SDK failure (throttling, a 5xx, a dropped connection) is retried like any transient
    error: re-raised as `StorageUnavailable` (from the original)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError
        from pynamodb.exceptions import PynamoDBException

        try:
            return fn(*args, **kwargs)
        except OrderDeskError:
            raise
        except (PynamoDBException, BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"{type(exc).__name__}: {str(exc)[:300]}") from exc

    return wrapper  # type: ignore[return-value]
