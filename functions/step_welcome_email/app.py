"""Workflow step: Accept: the welcome email (once per order)."""

from __future__ import annotations

from typing import Any

from orderdesk.observability import logger
from orderdesk.services import accept_steps


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return accept_steps.send_welcome_email(event)
