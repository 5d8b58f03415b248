"""Export function: writes one export of the orders list to its CSV file in S3
(`services.exports.run_export`). Started by POST /exports with an asynchronous invocation,
`{"export_id": "..."}`; Lambda retries a run that raised (a transient failure) twice, then hands
the event to the on-failure queue (template.yaml)."""

from __future__ import annotations

from typing import Any

from orderdesk.observability import logger
from orderdesk.services import exports


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return exports.run_export(str(event["export_id"]), remaining_ms=context.get_remaining_time_in_millis)
