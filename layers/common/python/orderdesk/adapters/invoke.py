"""Running a function of the stack: without waiting for it (`start`, Lambda's asynchronous
invocation), or for its answer (`call`).

Lambda takes the event into its own queue (a 202, in milliseconds), runs the function from it,
retries a failed run twice with backoff and hands an event it gave up on to the function's
on-failure destination (template.yaml). On the local stack, botocore's AWS_ENDPOINT_URL_LAMBDA
points at moto's server, whose Invoke route runs the handler in a thread of its own
(`infra.local.moto_server`)."""

from __future__ import annotations

import json
from typing import Any

from ..domain.errors import PermanentError, TransientError
from . import aws


class InvokeRejected(PermanentError):
    """Lambda refused to start the function (no such function, not allowed, payload too large)."""


def start(function_name: str, payload: dict[str, Any]) -> None:
    """Queue one run of `function_name` with `payload` (at most 256 KB)."""
    with aws.translated("Lambda", rejected=InvokeRejected):
        aws.client("lambda").invoke(FunctionName=function_name, InvocationType="Event",
                                    Payload=json.dumps(payload).encode())


def call(function_name: str, payload: dict[str, Any]) -> Any:
    """Run `function_name` with `payload` and return what it returned (JSON). A run that raised (or
    timed out) is a TransientError (503: ask again), naming the error's type only: its message may
    quote what the function read."""
    with aws.translated("Lambda", rejected=InvokeRejected):
        answer = aws.client("lambda").invoke(FunctionName=function_name, InvocationType="RequestResponse",
                                             Payload=json.dumps(payload).encode())
        body = answer["Payload"].read()
    if answer.get("FunctionError"):
        try:
            kind = str(json.loads(body).get("errorType") or "error")
        except (ValueError, AttributeError):
            kind = "error"
        raise TransientError(f"{function_name} failed ({kind})")
    return json.loads(body) if body else None
