"""One exception tree. Adapters raise these (or a subclass defined beside the one adapter that
raises it); `api.http` maps them to HTTP, workflow steps to Step Functions error names: the class
name is the errorType Lambda reports, and the ASL's Retry blocks list `retried_error_names()`
(infra/statemachines/build.py writes them, tests/template/test_retry_contract.py checks them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import PendingAction


class OrderDeskError(Exception):
    """Base of every error OrderDesk raises on purpose."""

    code = "error"

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class ValidationFailed(OrderDeskError):
    """Bad input; `fields` maps each bad field to what is wrong with it."""

    code = "bad_request"

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}


class NotFound(OrderDeskError):
    code = "not_found"


class OrderNotFound(NotFound):
    pass


class Conflict(OrderDeskError):
    code = "conflict"


class TransitionNotAllowed(Conflict):
    code = "invalid_transition"


class ActionInProgress(Conflict):
    code = "action_in_progress"

    @classmethod
    def held_by(cls, order_id: str, lock: PendingAction) -> ActionInProgress:
        """The order carries the lock of another action."""
        return cls(f"order {order_id} has an action in progress ({lock.type})", action_id=lock.action_id)


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


class ConcurrentUpdate(Conflict):
    """A conditional write lost a race; the caller may re-read and retry."""

    code = "concurrent_update"


class TransientError(OrderDeskError):
    """Worth retrying (network, throttling, a remote 5xx): Step Functions retries it."""

    code = "transient"


class PermanentError(OrderDeskError):
    """Retrying will not help (remote 4xx, bad configuration)."""

    code = "permanent"


class GatewayError(PermanentError):
    pass


class DuplicateTransaction(Conflict):
    """A gateway's transaction id is recorded already (on any invoice): one payment, once."""

    code = "duplicate_transaction"


class DuplicateEvent(Conflict):
    """An event (by its id) was received before: it is not acted on a second time."""

    code = "duplicate_event"


class InsufficientCredit(Conflict):
    """A client's credit balance is short of what a credit payment or a negative adjustment takes."""

    code = "insufficient_credit"


class RefundNotOwed(Conflict):
    """Only an owed refund is confirmed: one a gateway made, or one confirmed already, is done."""

    code = "refund_not_owed"


class LockLost(PermanentError):
    """The order no longer holds this action's lock (the action was ended elsewhere)."""


class StepsFailed(PermanentError):
    """Some items or payments of a Map failed for good; the action ends FAILED."""


class CleanupIncomplete(OrderDeskError):
    code = "cleanup_incomplete"


class FraudScreeningFailed(TransientError):
    """The provider failed; raised by the stream consumer so the stream retries the record."""


# What Lambda and Step Functions themselves report when an invocation failed before or around our
# code (throttled, the service erred, the sandbox timed out): worth retrying like our own.
LAMBDA_SERVICE_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.Unknown",
    "Sandbox.Timedout",
)


def _tree(root: type[Exception]) -> Iterator[type[Exception]]:
    """`root` and its subclasses, those of OrderDesk's package only (not a test's stand-in)."""
    if root.__module__.partition(".")[0] == __name__.partition(".")[0]:
        yield root
    for sub in root.__subclasses__():
        yield from _tree(sub)


def retried_error_names() -> list[str]:
    """The Step Functions error names the workflows retry: `TransientError`, every subclass of it,
    `ConcurrentUpdate` and its subclasses (a lost race, re-read on retry), then the Lambda service
    errors. Only classes already imported count: call it after importing every module that may
    define one (infra/statemachines/build.py imports the whole package first)."""
    transient = sorted({c.__name__ for c in _tree(TransientError)} - {"TransientError"})
    races = sorted({c.__name__ for c in _tree(ConcurrentUpdate)} - {"ConcurrentUpdate"})
    return ["TransientError", *transient, "ConcurrentUpdate", *races, *LAMBDA_SERVICE_ERRORS]
