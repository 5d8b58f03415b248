"""Workflow step: Cancel & Refund, per payment: the refund through the gateway that took it, exactly once.

The Lambda context is registered with Powertools idempotency, so an invocation that died
holds the payment only until its timeout."""

from __future__ import annotations

from typing import Any

from orderdesk.observability import logger
from orderdesk.services import cancel_steps


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return cancel_steps.refund_payment(event, lambda_context=context)
