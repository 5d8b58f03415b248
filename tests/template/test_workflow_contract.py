"""The state machines and the steps agree: every Task of infra/statemachines/ hands its step
exactly the fields of that step's input type (`orderdesk.services.workflow_contract`), each Map
hands a task of the type the start payload lists, a failed task comes back naming its step, and
every path the ASL reads from the execution's input is a field of the start payload or a result
the machine itself stored. A field renamed on one side only fails here, not in a workflow run."""

from __future__ import annotations

import json
import re
import typing
from dataclasses import fields
from typing import Any

import pytest

from orderdesk.services import workflow_contract as wc
from tests.template import support

# the input type of each step function of the template
STEP_INPUT: dict[str, type] = {
    "ProvisionItemFunction": wc.ProvisionInput,
    "WelcomeEmailFunction": wc.StepInput,
    "TerminateItemFunction": wc.TerminateInput,
    "CancelInvoiceFunction": wc.StepInput,
    "RefundPaymentFunction": wc.RefundInput,
    "CheckpointFunction": wc.CheckpointInput,
    "FinishFunction": wc.StepInput,
    "RecordFailureFunction": wc.FailureInput,
    "ItemCommandFunction": wc.ItemCommandInput,
}
PAYLOAD = {"AcceptOrderStateMachine": wc.AcceptPayload, "CancelOrderStateMachine": wc.CancelPayload,
           "ItemCommandsStateMachine": wc.ItemCommandPayload}
MACHINES = support.resources(support.STATE_MACHINE)


def names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


def keys(parameters: dict[str, Any]) -> set[str]:
    return {k.removesuffix(".$") for k in parameters}


def asl(machine: str) -> dict[str, Any]:
    uri = MACHINES[machine]["Properties"]["DefinitionUri"]
    return json.loads((support.REPO_ROOT / uri).read_text())


def function_of(machine: str, resource: str) -> str:
    """The template function a Task's `${...}` resource stands for."""
    name = re.fullmatch(r"\$\{(\w+)\}", resource)
    assert name, resource
    target = MACHINES[machine]["Properties"]["DefinitionSubstitutions"][name.group(1)]
    return support.logical_id(target)


def tasks(states: dict[str, Any], selector: dict[str, Any] | None = None) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(name, state, what it is given) of every Task and Pass, into Maps."""
    out = []
    for name, state in states.items():
        if state["Type"] in ("Task", "Pass") and "Parameters" in state or state["Type"] == "Task":
            out.append((name, state, state.get("Parameters") or selector or {}))
        if state["Type"] == "Map":
            out += tasks(state["ItemProcessor"]["States"], state["ItemSelector"])
    return out


@pytest.mark.parametrize("machine", sorted(MACHINES))
def test_every_task_hands_its_step_exactly_its_input_type(machine: str) -> None:
    for name, state, given in tasks(asl(machine)["States"]):
        if state["Type"] == "Pass":
            # a task that failed for good: named by its step, for the checkpoint
            assert keys(given) == names(wc.MapFailure), name
            assert given["step.$"] in ("$.item.step", "$.payment.step"), name
            continue
        function = function_of(machine, state["Resource"])
        assert function in STEP_INPUT, f"{name}: {function} is a step with no input type here"
        assert keys(given) == names(STEP_INPUT[function]), (name, function)


@pytest.mark.parametrize("machine", sorted(MACHINES))
def test_each_map_hands_the_task_type_the_start_payload_lists(machine: str) -> None:
    payload = PAYLOAD[machine]
    hints = typing.get_type_hints(payload)
    for name, state in asl(machine)["States"].items():
        if state["Type"] != "Map":
            continue
        listed = state["ItemsPath"].removeprefix("$.")
        (task,) = typing.get_args(hints[listed])
        item_field = next(k.removesuffix(".$") for k, v in state["ItemSelector"].items() if v == "$$.Map.Item.Value")
        inner = state["ItemProcessor"]["States"][state["ItemProcessor"]["StartAt"]]
        step_input = STEP_INPUT[function_of(machine, inner["Resource"])]
        assert {item_field: task} == step_input.NESTED, name  # type: ignore[attr-defined]


@pytest.mark.parametrize("machine", sorted(MACHINES))
def test_every_path_read_from_the_input_is_a_payload_field_or_a_stored_result(machine: str) -> None:
    definition = asl(machine)
    text = json.dumps(definition)
    read = set(re.findall(r'"\$\.(\w+)', text))
    stored = {p.removeprefix("$.") for p in re.findall(r'"ResultPath": "(\$\.\w+)"', text)}
    nested = {"item", "payment", "error"}  # fields of a Map task's own input
    assert read - stored - nested <= names(PAYLOAD[machine]), read - stored - names(PAYLOAD[machine])


def test_the_contract_check_can_fail() -> None:
    assert keys({"order_id.$": "$.order_id"}) != names(wc.StepInput)
    with pytest.raises(wc.BadStepInput):
        wc.ProvisionInput.parse({"order_id": "o", "action_id": "a", "action": "accept", "item": {"nope": 1}})
    with pytest.raises(wc.BadStepInput):
        wc.StepInput.parse({"order_id": "o", "action_id": "a", "action": "ship"})
