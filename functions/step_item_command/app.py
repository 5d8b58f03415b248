"""Workflow step: a module command (create, suspend, unsuspend, terminate, register) on one item."""

from __future__ import annotations

from typing import Any

from orderdesk.observability import logger
from orderdesk.services import item_commands


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return item_commands.run_item_command(event)
