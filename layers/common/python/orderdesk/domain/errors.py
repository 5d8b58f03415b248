"""One exception tree. Adapters raise these; `api.errors` maps them to HTTP, workflow steps to
Step Functions error names (the class name is the errorType Lambda reports)."""

from __future__ import annotations

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


class ProvisioningError(PermanentError):
    pass


class GatewayError(PermanentError):
    pass
