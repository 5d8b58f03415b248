"""Workflow step: A workflow's Catch: the action FAILED with its error, the order's lock released."""

from __future__ import annotations

from typing import Any

from orderdesk.observability import logger
from orderdesk.services import workflow_runtime


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return workflow_runtime.record_failure(event)
