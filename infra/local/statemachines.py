"""template.yaml's Lambda functions and state machines, for the local stack and the tests.

* `lambda_functions_from_template()` maps each `AWS::Serverless::Function` whose code is
  `functions/<name>/` to its handler as imported locally (`functions.<name>.app.handler`), keyed
  by its function name (the logical id), ready for `MotoServer(lambda_functions=...)`.
* `create_state_machines(sfn_client)` creates each `AWS::Serverless::StateMachine` in moto
  from its ASL file, with `DefinitionSubstitutions` resolved to the local functions' ARNs, and
  returns `{logical_id: state machine ARN}`.
* `state_machine_environment(arns)` gives the settings that point the code at them
  (`ACCEPT_STATE_MACHINE_ARN`, ...), taken from the template's `!Ref`s where it has them.

So the ASL run locally is exactly the file SAM deploys."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .moto_server import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, LocalFunction
from .table import TEMPLATE, load_template

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_ROLE_ARN = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/orderdesk-local-states"

# used when no function in the template carries the variable (the template is reconciled by hand)
DEFAULT_ENVIRONMENT = {
    "AcceptOrderStateMachine": "ACCEPT_STATE_MACHINE_ARN",
    "CancelOrderStateMachine": "CANCEL_STATE_MACHINE_ARN",
    "ItemCommandsStateMachine": "ITEM_COMMANDS_STATE_MACHINE_ARN",
}

_CODE_URI = re.compile(r"^functions/(?P<name>[A-Za-z_][A-Za-z0-9_]*)/?$")


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {lid: res for lid, res in (template.get("Resources") or {}).items() if res.get("Type") == kind}


def function_handlers(path: Path = TEMPLATE) -> dict[str, str]:
    """{logical id: "functions.<name>.app.handler"} for every function built from functions/."""
    out: dict[str, str] = {}
    for lid, res in _resources(load_template(path), "AWS::Serverless::Function").items():
        props = res.get("Properties") or {}
        code = props.get("CodeUri")
        match = _CODE_URI.match(code) if isinstance(code, str) else None
        handler = props.get("Handler")
        if match is None or not isinstance(handler, str):
            continue  # the API function and anything not in functions/ is served otherwise
        out[lid] = f"functions.{match['name']}.{handler}"
    return out


def lambda_functions_from_template(path: Path = TEMPLATE, *, timeout_seconds: float | None = None,
                                   overrides: dict[str, Any] | None = None) -> dict[str, LocalFunction]:
    """What `MotoServer(lambda_functions=...)` serves: each function under its logical id.

    `timeout_seconds` sets the timeout each handler's context reports (default: the template's
    Timeout); `overrides` replaces handlers by logical id (tests wrap one to inject a fault)."""
    template = load_template(path)
    default_timeout = ((template.get("Globals") or {}).get("Function") or {}).get("Timeout", 3)
    functions = _resources(template, "AWS::Serverless::Function")
    out: dict[str, LocalFunction] = {}
    for lid, handler in function_handlers(path).items():
        props = functions[lid].get("Properties") or {}
        timeout = timeout_seconds if timeout_seconds is not None else float(props.get("Timeout", default_timeout))
        memory = props.get("MemorySize") or ((template.get("Globals") or {}).get("Function") or {}).get("MemorySize")
        target = (overrides or {}).get(lid, handler)
        out[lid] = LocalFunction(handler=target, memory_limit_in_mb=int(memory) if isinstance(memory, int) else 128,
                                 timeout_seconds=timeout)
    return out


def function_arn(name: str, *, region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT_ID) -> str:
    return f"arn:aws:lambda:{region}:{account_id}:function:{name}"


def _resolve(value: Any, functions: set[str], region: str, account_id: str) -> str:
    """A DefinitionSubstitutions value: `!GetAtt Fn.Arn` / `!Ref Fn` of a function, or a string."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        lid, _, attr = target.partition(".") if isinstance(target, str) else (target[0], ".", target[1])
        if lid in functions and attr == "Arn":
            return function_arn(lid, region=region, account_id=account_id)
    if isinstance(value, dict) and "Ref" in value and value["Ref"] in functions:
        return value["Ref"]
    raise ValueError(f"cannot resolve the substitution {value!r} locally")


def state_machine_definitions(path: Path = TEMPLATE, *, region: str = DEFAULT_REGION,
                              account_id: str = DEFAULT_ACCOUNT_ID) -> dict[str, str]:
    """{logical id: ASL with its substitutions resolved} for every state machine."""
    template = load_template(path)
    functions = set(_resources(template, "AWS::Serverless::Function"))
    out: dict[str, str] = {}
    for lid, res in _resources(template, "AWS::Serverless::StateMachine").items():
        props = res.get("Properties") or {}
        uri = props.get("DefinitionUri")
        if isinstance(uri, str):
            text = (path.parent / uri).read_text()
        elif "Definition" in props:
            text = json.dumps(props["Definition"])
        else:
            raise ValueError(f"state machine {lid} has neither DefinitionUri nor Definition")
        for key, value in (props.get("DefinitionSubstitutions") or {}).items():
            text = text.replace("${" + key + "}", _resolve(value, functions, region, account_id))
        left = re.findall(r"\$\{(\w+)\}", text)
        if left:
            raise ValueError(f"state machine {lid}: no substitution for {', '.join(sorted(set(left)))}")
        json.loads(text)  # fail here, not in moto, on a broken file
        out[lid] = text
    return out


def create_state_machines(sfn_client: Any, path: Path = TEMPLATE, *, role_arn: str = LOCAL_ROLE_ARN,
                          region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT_ID) -> dict[str, str]:
    """Create (or update, when it exists) each state machine in moto; {logical id: ARN}."""
    arns: dict[str, str] = {}
    existing = {m["name"]: m["stateMachineArn"]
                for page in sfn_client.get_paginator("list_state_machines").paginate()
                for m in page["stateMachines"]}
    for lid, definition in state_machine_definitions(path, region=region, account_id=account_id).items():
        name = f"orderdesk-{lid}"
        if name in existing:
            sfn_client.update_state_machine(stateMachineArn=existing[name], definition=definition, roleArn=role_arn)
            arns[lid] = existing[name]
        else:
            arns[lid] = sfn_client.create_state_machine(name=name, definition=definition, roleArn=role_arn,
                                                        type="STANDARD")["stateMachineArn"]
    return arns


def state_machine_environment(arns: dict[str, str], path: Path = TEMPLATE) -> dict[str, str]:
    """{ENV_VAR: ARN}: the variables the template's functions set to `!Ref <state machine>`."""
    template = load_template(path)
    env: dict[str, str] = {}
    for res in _resources(template, "AWS::Serverless::Function").values():
        variables = (((res.get("Properties") or {}).get("Environment") or {}).get("Variables") or {})
        for var, value in variables.items():
            if isinstance(value, dict) and value.get("Ref") in arns:
                env[var] = arns[value["Ref"]]
    for lid, var in DEFAULT_ENVIRONMENT.items():
        if lid in arns:
            env.setdefault(var, arns[lid])
    return env
