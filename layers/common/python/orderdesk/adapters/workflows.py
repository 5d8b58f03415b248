"""Step Functions: start, describe and stop the executions of the action workflows.

The client is `aws.client("stepfunctions")`, built on first use; its endpoint comes from
botocore's `AWS_ENDPOINT_URL_SFN` locally, as in AWS there is none. Execution names are chosen
by the caller and deterministic, so a repeated start (a retried request) finds the execution
already running (Step Functions answers the same ARN for the same name and input) instead of
starting a second one. A throttle, a 5xx or an unreachable endpoint is `WorkflowUnavailable`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..domain.errors import PermanentError, TransientError
from . import aws


class WorkflowUnavailable(TransientError):
    """Step Functions throttled us, failed on its side or could not be reached: retry."""


@dataclass(frozen=True)
class Execution:
    arn: str
    status: str  # RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED | PENDING_REDRIVE
    error: str | None = None
    cause: str | None = None


def _sfn() -> Any:
    return aws.client("stepfunctions")


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives an execution of that name (known before it starts)."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def start(state_machine_arn: str, name: str, payload: dict[str, Any]) -> str:
    try:
        answer = _sfn().start_execution(stateMachineArn=state_machine_arn, name=name,
                                        input=json.dumps(payload, separators=(",", ":"), sort_keys=True))
    except Exception as exc:
        if aws.error_code(exc) == "ExecutionAlreadyExists":
            raise PermanentError(f"workflow execution {name} already ran with other input") from exc
        aws.reraise(exc, f"Step Functions (start {name})", unavailable=WorkflowUnavailable, rejected=PermanentError)
    return str(answer["executionArn"])


def describe(arn: str) -> Execution | None:
    """The execution's state, or None when Step Functions does not know it."""
    try:
        d = _sfn().describe_execution(executionArn=arn)
    except Exception as exc:
        if aws.error_code(exc) in ("ExecutionDoesNotExist", "InvalidArn"):
            return None
        aws.reraise(exc, "Step Functions (describe)", unavailable=WorkflowUnavailable)
    return Execution(arn=arn, status=d["status"], error=d.get("error"), cause=d.get("cause"))


def stop(arn: str, error: str, cause: str) -> None:
    """Stop a running execution; one that has already ended (or never existed) is left alone."""
    try:
        _sfn().stop_execution(executionArn=arn, error=error[:256], cause=cause[:32768])
    except Exception as exc:
        if aws.error_code(exc) in ("ExecutionDoesNotExist", "InvalidArn", "ValidationException"):
            return
        aws.reraise(exc, "Step Functions (stop)", unavailable=WorkflowUnavailable)
