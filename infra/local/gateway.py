"""Make Chalice's local API Gateway emulation answer as API Gateway does in AWS.

In AWS, a Lambda authorizer that raises `Exception("Unauthorized")` makes API Gateway answer 401,
and the template's GatewayResponses give that 401 OrderDesk's error body. Chalice's local gateway
lets the exception escape instead (a 500) and uses its own body for a missing header. This wraps
its authorizer step so local runs and tests see exactly what AWS sends. A method no route has
(TRACE, QUERY...) is a JSON 405, never the local server's own 501."""

from __future__ import annotations

import json
from typing import Any

UNAUTHORIZED_BODY = json.dumps(
    {"error": {"code": "unauthorized", "message": "a valid bearer token is required", "fields": {}}}
).encode()

_installed = False


def _any_method(self: Any, name: str) -> Any:
    if name.startswith("do_"):
        return self._generic_handle
    raise AttributeError(name)


def install() -> None:
    global _installed
    if _installed:
        return
    from chalice import local

    original = local.LocalGatewayAuthorizer.authorize

    def authorize(self: Any, raw_path: str, lambda_event: Any, lambda_context: Any) -> Any:
        headers = {"x-amzn-RequestId": lambda_context.aws_request_id, "x-amzn-ErrorType": "UnauthorizedException",
                   "Content-Type": "application/json"}
        try:
            return original(self, raw_path, lambda_event, lambda_context)
        except local.NotAuthorizedError as exc:
            raise local.NotAuthorizedError(headers, UNAUTHORIZED_BODY) from exc
        except local.LocalGatewayException:
            raise
        except Exception as exc:
            if str(exc) == "Unauthorized":
                raise local.NotAuthorizedError(headers, UNAUTHORIZED_BODY) from exc
            raise

    local.LocalGatewayAuthorizer.authorize = authorize  # type: ignore[method-assign]
    # The local HTTP server answered a method it has no do_<METHOD> for (TRACE, QUERY...) with its
    # own 501 HTML page; API Gateway never sends a 5xx for a method no route has: route every
    # method like the others, so the answer is chalice's JSON 405.
    local.ChaliceRequestHandler.__getattr__ = _any_method  # type: ignore[attr-defined]
    _installed = True
