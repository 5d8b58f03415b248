"""Logger, Tracer and Metrics, set up once and shared by every entry point.

Powertools reads POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE and POWERTOOLS_LOG_LEVEL
from the environment; the Tracer is disabled outside Lambda so tests and the local stack do not
need an X-Ray daemon."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "orderdesk")

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE, disabled="AWS_LAMBDA_FUNCTION_NAME" not in os.environ
                or os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() == "true")
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "OrderDesk"), service=SERVICE)
