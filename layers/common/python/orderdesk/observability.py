"""Logger, Tracer and Metrics, set up once and shared by every entry point.

Powertools reads POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE and POWERTOOLS_LOG_LEVEL
from the environment; the Tracer is disabled outside Lambda so tests and the local stack do not
need an X-Ray daemon.

`tracer` and `metrics` are built on first use (`from orderdesk.observability import tracer`):
an enabled Tracer imports the X-Ray SDK and patches botocore, about three times the import time
of botocore and Powertools together, which a function that does not trace should not pay at
every cold start."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from .config import Settings, get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics, Tracer

    tracer: Tracer
    metrics: Metrics

SERVICE = Settings.from_env().service_name  # not get_settings(): nothing cached at import time

logger = Logger(service=SERVICE)


def __getattr__(name: str) -> Any:
    if name == "tracer":
        from aws_lambda_powertools import Tracer

        value: Any = Tracer(service=SERVICE, disabled=not get_settings().tracing)
    elif name == "metrics":
        from aws_lambda_powertools import Metrics

        value = Metrics(namespace=get_settings().metrics_namespace, service=SERVICE)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # built once
    return value
