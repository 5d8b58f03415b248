"""Step Functions: start, describe and stop the executions of the action workflows.

The client is built on first use; its endpoint comes from botocore's `AWS_ENDPOINT_URL_SFN`
locally, as in AWS there is none. Execution names are chosen by the caller and deterministic,
so a repeated start (a retried request) finds the execution already running (Step Functions
answers the same ARN for the same name and input) instead of starting a second one."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from ..config import get_settings
from ..domain.errors import PermanentError, TransientError


class WorkflowUnavailable(TransientError):
    pass


@dataclass(frozen=True)
class Execution:
    arn: str
    status: str  # RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED | PENDING_REDRIVE
    error: str | None = None
    cause: str | None = None


_client: Any = None
_client_lock = threading.Lock()


def _sfn() -> Any:
    global _client
    with _client_lock:
        if _client is None:
            import boto3

            _client = boto3.client("stepfunctions", region_name=get_settings().region)
        return _client


def reset_client() -> None:
    """Forget the client (tests and the local stack move the endpoint)."""
    global _client
    with _client_lock:
        _client = None


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives an execution of that name (known before it starts)."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def start(state_machine_arn: str, name: str, payload: dict[str, Any]) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer = _sfn().start_execution(stateMachineArn=state_machine_arn, name=name,
                                        input=json.dumps(payload, separators=(",", ":"), sort_keys=True))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ExecutionAlreadyExists":
            raise PermanentError(f"workflow execution {name} already ran with other input") from exc
        if code in ("ThrottlingException", "ServiceUnavailable", "InternalServerError"):
            raise WorkflowUnavailable(f"Step Functions: {code}") from exc
        raise PermanentError(f"Step Functions refused to start {name}: {code}") from exc
    except BotoCoreError as exc:
        raise WorkflowUnavailable(f"Step Functions unreachable: {type(exc).__name__}") from exc
    return str(answer["executionArn"])


def describe(arn: str) -> Execution | None:
    """The execution's state, or None when Step Functions does not know it."""
    from botocore.exceptions import ClientError

    try:
        d = _sfn().describe_execution(executionArn=arn)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("ExecutionDoesNotExist", "InvalidArn"):
            return None
        raise
    return Execution(arn=arn, status=d["status"], error=d.get("error"), cause=d.get("cause"))


def stop(arn: str, error: str, cause: str) -> None:
    """Stop a running execution; one that has already ended (or never existed) is left alone."""
    from botocore.exceptions import ClientError

    try:
        _sfn().stop_execution(executionArn=arn, error=error[:256], cause=cause[:32768])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("ExecutionDoesNotExist", "InvalidArn",
                                                              "ValidationException"):
            raise
