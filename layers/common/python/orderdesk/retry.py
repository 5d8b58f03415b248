"""The one way OrderDesk retries a write that lost a race: read again, decide again, write again.

Every conditional write that another writer can beat raises `ConcurrentUpdate`; the caller's
whole read-decide-write step is what is retried (never the write alone, which would apply a
decision taken on stale state), a few times with jittered backoff, then the error goes up (a 409
through the API, a Retry in the workflows, a redelivery from SQS or the stream)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from .domain.errors import ConcurrentUpdate

T = TypeVar("T")


def retry_on_conflict(step: Callable[[], T], *, attempts: int = 5, base_seconds: float = 0.005) -> T:
    """Run `step` until it does not raise ConcurrentUpdate, at most `attempts` times."""
    for attempt in range(attempts):
        try:
            return step()
        except ConcurrentUpdate:
            if attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0, base_seconds * 2 ** min(attempt, 6)))  # noqa: S311 - jitter
    raise AssertionError("unreachable")  # pragma: no cover
