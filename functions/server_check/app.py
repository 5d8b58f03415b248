"""Connection-test function: runs a server's module check (`services.directory.run_server_check`)
for POST /servers/{id}/test, which invokes it and waits for its answer, `{"server_id": "..."}`.

It exists so that the internet-facing API never holds the right to decrypt stored credentials
(template.yaml: the API may only encrypt them); this function may decrypt a server's credentials
and nothing else."""

from __future__ import annotations

from typing import Any

from orderdesk.observability import logger
from orderdesk.services import directory


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return directory.run_server_check(str(event["server_id"]))
