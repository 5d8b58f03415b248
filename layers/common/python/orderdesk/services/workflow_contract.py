"""The contract between the services that start a workflow, the state machines of
infra/statemachines/, and the steps: what each step receives and returns, typed, and how steps
are named.

`start` payloads (`AcceptPayload`, `CancelPayload`) are the execution's input; a Map hands each
task (`ProvisionTask`, `TerminateTask`, `RefundTask`) to its step with the action's `StepInput`
fields; a task that failed for good comes back from the Map as a `MapFailure` naming its step, so
the checkpoint marks exactly that step. tests/template/test_workflow_contract.py checks that the
ASL's Parameters and ItemSelectors build exactly these fields."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, Self

from ..domain.errors import PermanentError
from ..domain.model import HistoryEntry, OrderItem, iso, utcnow
from ..domain.statuses import ActionType, ItemKind

WORKFLOW_ACTIONS = frozenset({ActionType.ACCEPT, ActionType.CANCEL, ActionType.CANCEL_REFUND, ActionType.FRAUD,
                              ActionType.ITEM_COMMAND})

LABELS = {
    ActionType.ACCEPT: "accept",
    ActionType.CANCEL: "cancel",
    ActionType.CANCEL_REFUND: "cancel & refund",
    ActionType.FRAUD: "set as fraud",
    ActionType.PENDING: "set back to pending",
    ActionType.DELETE: "delete",
    ActionType.ITEM_COMMAND: "item command",
}

# the last step of each workflow (it moves the order and releases the lock)
FINAL_STEP = {
    ActionType.ACCEPT: "activate_order",
    ActionType.CANCEL: "cancel_order",
    ActionType.CANCEL_REFUND: "cancel_order",
    ActionType.FRAUD: "mark_fraud",
    ActionType.ITEM_COMMAND: "commands_done",
}
WELCOME_STEP = "welcome_email"
CANCEL_INVOICE_STEP = "cancel_invoice"

def label(action: str) -> str:
    try:
        return LABELS[ActionType(action)]
    except ValueError:
        return action


def provision_step(item: OrderItem) -> str:
    return f"{'register' if item.kind is ItemKind.DOMAIN else 'provision'}:{item.id}"


def terminate_step(item_id: str) -> str:
    return f"terminate:{item_id}"


def refund_step(payment_id: str) -> str:
    return f"refund:{payment_id}"


def command_step(command: str, item_id: str) -> str:
    return f"{command}:{item_id}"


class BadStepInput(PermanentError):
    """A step was called with an event that is not its contract (a state machine out of step
    with the code): retrying cannot help."""


def _build(cls: type[Any], data: Any) -> Any:
    if not isinstance(data, dict):
        raise BadStepInput(f"{cls.__name__}: expected an object, got {type(data).__name__}")
    names = {f.name for f in fields(cls)}
    try:
        return cls(**{k: v for k, v in data.items() if k in names})
    except TypeError as exc:
        raise BadStepInput(f"{cls.__name__}: {exc}") from exc


# -- Map tasks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProvisionTask:
    item_id: str
    step: str
    run_module_create: bool = True
    send_to_registrar: bool = True


@dataclass(frozen=True)
class TerminateTask:
    item_id: str
    step: str


@dataclass(frozen=True)
class RefundTask:
    payment_id: str
    step: str


@dataclass(frozen=True)
class ItemCommandTask:
    item_id: str
    step: str
    command: str  # create | suspend | unsuspend | terminate | register


@dataclass(frozen=True)
class MapFailure:
    """A Map iteration whose step failed for good (the ASL's Catch → Pass); a success is the
    step's own result and has no `error`."""

    step: str
    error: dict[str, Any] | None = None


# -- what every step receives ---------------------------------------------------------------------


@dataclass(frozen=True)
class StepInput:
    order_id: str
    action_id: str
    action: ActionType
    actor: str = "workflow"
    execution: str | None = None

    # fields holding a task (or a list of them) of a Map: built from their own dataclass
    NESTED: ClassVar[dict[str, type]] = {}
    NESTED_LISTS: ClassVar[dict[str, type]] = {}

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "action", ActionType(self.action))
        except ValueError as exc:
            raise BadStepInput(f"unknown action {self.action!r}") from exc

    @classmethod
    def parse(cls, event: Any) -> Self:
        """The step's event as this type; `BadStepInput` (permanent) when it is not."""
        if not isinstance(event, dict):
            raise BadStepInput(f"{cls.__name__}: expected an object, got {type(event).__name__}")
        data = dict(event)
        for name, task in cls.NESTED.items():
            data[name] = _build(task, event.get(name))
        for name, task in cls.NESTED_LISTS.items():
            raw = event.get(name) or []
            if not isinstance(raw, list):
                raise BadStepInput(f"{cls.__name__}: {name} must be a list")
            data[name] = tuple(_build(task, one) for one in raw)
        parsed: Self = _build(cls, data)
        return parsed

    def history(self, action: str, *, from_: str | None = None, to: str | None = None,
                detail: str | None = None) -> HistoryEntry:
        return HistoryEntry(at=iso(utcnow()), actor=self.actor or "workflow", action=action, from_=from_, to=to,
                            detail=detail[:2000] if detail else None, execution=self.execution)


@dataclass(frozen=True)
class ProvisionInput(StepInput):
    item: ProvisionTask = ProvisionTask(item_id="", step="")
    NESTED: ClassVar[dict[str, type]] = {"item": ProvisionTask}


@dataclass(frozen=True)
class TerminateInput(StepInput):
    item: TerminateTask = TerminateTask(item_id="", step="")
    NESTED: ClassVar[dict[str, type]] = {"item": TerminateTask}


@dataclass(frozen=True)
class RefundInput(StepInput):
    payment: RefundTask = RefundTask(payment_id="", step="")
    NESTED: ClassVar[dict[str, type]] = {"payment": RefundTask}


@dataclass(frozen=True)
class ItemCommandInput(StepInput):
    item: ItemCommandTask = ItemCommandTask(item_id="", step="", command="")
    NESTED: ClassVar[dict[str, type]] = {"item": ItemCommandTask}


@dataclass(frozen=True)
class CheckpointInput(StepInput):
    results: tuple[MapFailure, ...] = ()
    NESTED_LISTS: ClassVar[dict[str, type]] = {"results": MapFailure}


@dataclass(frozen=True)
class FailureInput(StepInput):
    failure: dict[str, Any] | None = None


# -- what steps return, and what starts a workflow ------------------------------------------------


@dataclass(frozen=True)
class ItemResult:
    item_id: str
    step: str
    status: str
    skipped: bool = False


@dataclass(frozen=True)
class RefundResult:
    payment_id: str
    step: str
    refund_id: str  # the refund transaction recorded on the invoice (not a gateway's id)
    state: str = "done"  # done: the gateway paid it back; owed: recorded for a person to pay back
    skipped: bool = False


@dataclass(frozen=True)
class StepDone:
    """A step that is not part of a Map: what it left (an email sent, the invoice's status...)."""

    outcome: str


@dataclass(frozen=True)
class FinishResult:
    order_status: str


@dataclass
class Plan:
    """What a start decided: the action's steps, the execution's input, what the action record
    shows of the request, a line for the history, and item fields set before the workflow runs."""

    steps: list[Any]  # ActionStep
    payload: Any  # AcceptPayload | CancelPayload | ItemCommandPayload
    public_params: dict[str, Any]
    summary: str
    item_fields: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class AcceptPayload:
    order_id: str
    action_id: str
    action: str
    actor: str
    items: list[ProvisionTask] = field(default_factory=list)
    send_welcome_email: bool = True


@dataclass(frozen=True)
class CancelPayload:
    order_id: str
    action_id: str
    action: str
    actor: str
    items: list[TerminateTask] = field(default_factory=list)
    payments: list[RefundTask] = field(default_factory=list)
    refund: bool = False


@dataclass(frozen=True)
class ItemCommandPayload:
    order_id: str
    action_id: str
    action: str
    actor: str
    command: str
    items: list[ItemCommandTask] = field(default_factory=list)


def as_dict(obj: Any) -> dict[str, Any]:
    """A result or payload as the JSON object Step Functions passes on."""
    return asdict(obj)
