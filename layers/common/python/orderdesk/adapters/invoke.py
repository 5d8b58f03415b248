"""Starting a function of the stack without waiting for it: Lambda's asynchronous invocation.

Lambda takes the event into its own queue (a 202, in milliseconds), runs the function from it,
retries a failed run twice with backoff and hands an event it gave up on to the function's
on-failure destination (template.yaml). On the local stack, botocore's AWS_ENDPOINT_URL_LAMBDA
points at moto's server, whose Invoke route runs the handler in a thread of its own
(`infra.local.moto_server`)."""

from __future__ import annotations

import json
from typing import Any

from ..domain.errors import PermanentError
from . import aws


class InvokeRejected(PermanentError):
    """Lambda refused to start the function (no such function, not allowed, payload too large)."""


def start(function_name: str, payload: dict[str, Any]) -> None:
    """Queue one run of `function_name` with `payload` (at most 256 KB)."""
    with aws.translated("Lambda", rejected=InvokeRejected):
        aws.client("lambda").invoke(FunctionName=function_name, InvocationType="Event",
                                    Payload=json.dumps(payload).encode())
