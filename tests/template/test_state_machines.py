"""Every state machine of template.yaml: its ASL file, every Task's function reference resolved
through DefinitionSubstitutions to a function of the template, invoke rights for exactly those
functions, logging and tracing on."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.template import support
from tests.template.support import REPO_ROOT

MACHINES = support.state_machines()
FUNCTIONS = support.functions()
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
LAMBDA_INVOKE = re.compile(r"^arn:[^:]+:states:::lambda:invoke(\.waitForTaskToken)?$")


def tasks(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Task state, inside Map and Parallel states too."""
    for name, state in states.items():
        if state.get("Type") == "Task":
            yield name, state
        for inner in [state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", [])]:
            if inner:
                yield from tasks(inner["States"])


def function_reference(state: dict[str, Any]) -> str | None:
    """The `${Name}` a Lambda task calls: its Resource, or FunctionName of lambda:invoke."""
    resource = state.get("Resource", "")
    if LAMBDA_INVOKE.match(resource) or resource == "arn:${AWS::Partition}:states:::lambda:invoke":
        resource = (state.get("Parameters") or state.get("Arguments") or {}).get("FunctionName", "")
    match = PLACEHOLDER.fullmatch(resource)
    return match[1] if match else None


def invoked_functions(props: dict[str, Any]) -> dict[str, str]:
    """{task name: logical id of the function it invokes}."""
    asl = json.loads(support.definition_path(props).read_text())
    substitutions = props.get("DefinitionSubstitutions", {})
    out = {}
    for name, state in tasks(asl["States"]):
        ref = function_reference(state)
        assert ref is not None, f"task {name} calls {state.get('Resource')!r}, not a ${{...}} substitution"
        assert ref in substitutions, f"task {name}: ${{{ref}}} is not in DefinitionSubstitutions"
        target = support.logical_id(substitutions[ref])
        assert target in FUNCTIONS, f"task {name}: ${{{ref}}} = {substitutions[ref]} is not a function of the template"
        out[name] = target
    return out


def test_every_asl_file_is_deployed() -> None:
    files = {p.name for p in (REPO_ROOT / "infra" / "statemachines").glob("*.asl.json")}
    deployed = {support.definition_path(p).name for p in MACHINES.values()}
    assert files == deployed


@pytest.mark.parametrize("logical_id", sorted(MACHINES))
def test_every_task_invokes_a_function_of_the_template(logical_id: str) -> None:
    # GIVEN a state machine and its ASL file
    props = MACHINES[logical_id]

    # WHEN each Task's function reference is followed through DefinitionSubstitutions
    invoked = invoked_functions(props)

    # THEN each lands on a function of the template (asserted inside), and there is at least one
    assert invoked


@pytest.mark.parametrize("logical_id", sorted(MACHINES))
def test_every_placeholder_is_substituted_and_every_substitution_used(logical_id: str) -> None:
    props = MACHINES[logical_id]
    text = support.definition_path(props).read_text()
    used = set(PLACEHOLDER.findall(text))
    assert used == set(props.get("DefinitionSubstitutions", {}))


@pytest.mark.parametrize("logical_id", sorted(MACHINES))
def test_state_machine_may_invoke_exactly_its_functions(logical_id: str) -> None:
    # GIVEN the functions its tasks call
    props = MACHINES[logical_id]
    invoked = set(invoked_functions(props).values())

    # THEN its policies grant lambda:InvokeFunction on those and no other
    granted = {support.logical_id(p["LambdaInvokePolicy"]["FunctionName"])
               for p in props.get("Policies", []) if isinstance(p, dict) and "LambdaInvokePolicy" in p}
    assert granted == invoked


@pytest.mark.parametrize("logical_id", sorted(MACHINES))
def test_state_machine_logs_and_traces(logical_id: str) -> None:
    props = MACHINES[logical_id]
    assert props.get("Type", "STANDARD") == "STANDARD"
    assert props.get("Tracing") == {"Enabled": True}
    logging = props.get("Logging") or {}
    assert logging.get("Level") in {"ALL", "ERROR"}
    destinations = logging.get("Destinations") or []
    groups = [support.logical_id(d["CloudWatchLogsLogGroup"]["LogGroupArn"]) for d in destinations]
    assert groups and all(support.template()["Resources"][g]["Type"] == "AWS::Logs::LogGroup" for g in groups)
