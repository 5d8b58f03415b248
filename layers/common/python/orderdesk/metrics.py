"""Business metrics: Powertools Metrics, written as CloudWatch embedded metric format (EMF) lines
to the function's log, which CloudWatch turns into metrics (no PutMetricData call, no latency).

Each is added where its happening is counted once, so a retried record or message does not add
it twice: the daily statistics of the order stream (`projections.daily`: orders placed, accepted,
cancelled, set as fraud, the refunded amount, fraud screening decisions, failed actions) and the
bulk consumer's count of a message (`bulk`: orders moved). A function that adds metrics is
wrapped in `flushed`, which writes them when it returns or raises. (A function killed between
counting and flushing loses those metrics: they are at most once; the daily statistics are the
exact figures.)

Powertools is imported on the first metric, never with this module: `services.bulk` is on the
API's import path, and the API adds no metric. Namespace: POWERTOOLS_METRICS_NAMESPACE; every
metric has the `service` dimension (POWERTOOLS_SERVICE_NAME), the amount and the decisions one
more (`currency`, `decision`). POWERTOOLS_METRICS_DISABLED=true writes none (the local stack's
default, so `make run`'s terminal is not full of them)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .config import get_settings

F = TypeVar("F", bound=Callable[..., Any])

ORDERS_PLACED = "OrdersPlaced"
ORDERS_ACCEPTED = "OrdersAccepted"
ORDERS_CANCELLED = "OrdersCancelled"
ORDERS_SET_AS_FRAUD = "OrdersSetAsFraud"
REFUNDED_AMOUNT = "RefundedAmount"  # dimension currency; unit None (an amount of money)
FRAUD_DECISIONS = "FraudDecisions"  # dimension decision: accept, review, reject, error
FAILED_ACTIONS = "FailedActions"
BULK_ORDERS_MOVED = "BulkOrdersMoved"
NAMES = (ORDERS_PLACED, ORDERS_ACCEPTED, ORDERS_CANCELLED, ORDERS_SET_AS_FRAUD, REFUNDED_AMOUNT, FRAUD_DECISIONS,
         FAILED_ACTIONS, BULK_ORDERS_MOVED)
# the dimension each metric has besides `service`
DIMENSION = {REFUNDED_AMOUNT: "currency", FRAUD_DECISIONS: "decision"}

_lock = threading.Lock()
# one metric set per combination of dimensions: an EMF line has one, so a metric with a
# `currency` cannot share a line with the plain counts
_pending: dict[tuple[tuple[str, str], ...], Any] = {}


def add(name: str, value: float, *, unit: str = "Count", **dimensions: str) -> None:
    """Add `value` to metric `name` (written by the next `flush`)."""
    if name not in NAMES:
        raise ValueError(f"unknown business metric {name!r}")
    key = tuple(sorted(dimensions.items()))
    with _lock:
        found = _pending.get(key)
        if found is None:
            from aws_lambda_powertools.metrics import EphemeralMetrics

            settings = get_settings()
            found = EphemeralMetrics(namespace=settings.metrics_namespace, service=settings.service_name)
            for dimension, dimension_value in key:
                found.add_dimension(name=dimension, value=dimension_value)
            _pending[key] = found
        found.add_metric(name=name, unit=unit, value=value)


def flush() -> None:
    """Write every metric added since the last flush, one EMF line per set of dimensions."""
    with _lock:
        pending = list(_pending.values())
        _pending.clear()
    for metrics in pending:
        metrics.flush_metrics()  # prints the line unless metrics are disabled


def flushed(handler: F) -> F:
    """Wrap a Lambda handler: its metrics are written when it returns or raises."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        finally:
            flush()

    return wrapper  # type: ignore[return-value]
