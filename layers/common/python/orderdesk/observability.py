"""The Powertools Logger, set up once and shared by every entry point.

Powertools reads POWERTOOLS_SERVICE_NAME and POWERTOOLS_LOG_LEVEL from the environment.

No Powertools Tracer or Metrics: Lambda's active tracing (template.yaml) already traces every
invocation and the Step Functions executions without importing the X-Ray SDK, which with
botocore's patching costs about three times the import of botocore and Powertools together at
every cold start (bench/coldstart.py); and the alarms watch the metrics AWS publishes itself."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from .config import Settings

SERVICE = Settings.from_env().service_name  # not get_settings(): nothing cached at import time

logger = Logger(service=SERVICE)
