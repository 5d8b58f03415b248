"""Scheduled cleanups (EventBridge Scheduler): the schedule's Input names the rule
(`{"rule": "release_locks"}`); any other event runs every rule. Raises when an order could not be
cleaned up, so the schedule's retry policy runs it again."""

from __future__ import annotations

from typing import Any

from orderdesk.observability import logger
from orderdesk.services import cleanup


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"results": cleanup.run_rules(cleanup.rules_of(event))}
