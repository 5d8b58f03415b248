"""Workflow step: Cancel / Cancel & Refund / Set as Fraud, per active product: module terminate."""

from __future__ import annotations

from typing import Any

from orderdesk.observability import logger
from orderdesk.services import cancel_steps


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return cancel_steps.terminate_item(event)
