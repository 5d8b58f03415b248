"""Reading template.yaml the ways the checks need: as written (CloudFormation long-form
intrinsics, SAM Globals merged into each function) and as AWS deploys it (after the SAM
transform, run locally with aws-sam-translator). No AWS call anywhere."""

from __future__ import annotations

import copy
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"
FUNCTION = "AWS::Serverless::Function"
STATE_MACHINE = "AWS::Serverless::StateMachine"
QUEUE = "AWS::SQS::Queue"


@lru_cache(maxsize=1)
def _raw() -> dict[str, Any]:
    from cfnlint.decode import decode

    template, matches = decode(str(TEMPLATE))
    if matches or template is None:
        raise AssertionError(f"template.yaml does not parse: {matches}")
    return json.loads(json.dumps(template))  # plain dicts, intrinsics in long form


def template() -> dict[str, Any]:
    """template.yaml as written (a fresh copy each call)."""
    return copy.deepcopy(_raw())


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {lid: res for lid, res in template()["Resources"].items() if res["Type"] == kind}


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = _merge(base[key], value) if key in base else value
        return out
    return override


def functions() -> dict[str, dict[str, Any]]:
    """Every function's Properties with the template's Globals.Function merged in, as SAM does."""
    globals_ = template().get("Globals", {}).get("Function", {})
    return {lid: _merge(globals_, res.get("Properties", {})) for lid, res in resources(FUNCTION).items()}


def state_machines() -> dict[str, dict[str, Any]]:
    return {lid: res.get("Properties", {}) for lid, res in resources(STATE_MACHINE).items()}


def logical_id(value: Any) -> str | None:
    """The resource a Ref / Fn::GetAtt (or a Fn::Sub naming one resource) points at."""
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref" and isinstance(arg, str):
            return arg
        if key == "Fn::GetAtt":
            return arg.split(".")[0] if isinstance(arg, str) else arg[0]
        if key == "Fn::Sub" and isinstance(arg, str):
            names = {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", arg) if not m.startswith("AWS::")}
            return names.pop() if len(names) == 1 else None
    return None


def definition_path(props: dict[str, Any]) -> Path:
    uri = props.get("DefinitionUri")
    assert isinstance(uri, str), "a state machine's ASL is kept in a file (DefinitionUri), not inline"
    return REPO_ROOT / uri


@lru_cache(maxsize=1)
def _transformed() -> dict[str, Any]:
    from samtranslator.translator.transform import transform

    tpl = template()
    for lid, res in tpl["Resources"].items():
        props = res.setdefault("Properties", {})
        # What `sam build` / `sam deploy` do before the transform: upload code, inline nothing else.
        if res["Type"] == FUNCTION and isinstance(props.get("CodeUri"), str):
            props["CodeUri"] = f"s3://orderdesk-artifacts/{lid}.zip"
        if res["Type"] == "AWS::Serverless::LayerVersion" and isinstance(props.get("ContentUri"), str):
            props["ContentUri"] = f"s3://orderdesk-artifacts/{lid}.zip"
        if res["Type"] == STATE_MACHINE and isinstance(props.get("DefinitionUri"), str):
            props["Definition"] = json.loads(definition_path(props).read_text())
            del props["DefinitionUri"]

    class ManagedPolicies:
        """The AWS managed policies SAM may attach, by name (the real loader asks IAM)."""

        def load(self) -> dict[str, str]:
            names = ["AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess", "AWSLambdaSQSQueueExecutionRole",
                     "AWSLambdaDynamoDBExecutionRole", "AWSLambdaRole"]
            return {name: f"arn:aws:iam::aws:policy/{name}" for name in names}

    return transform(tpl, {}, ManagedPolicies())  # type: ignore[no-any-return]


def transformed() -> dict[str, Any]:
    """The CloudFormation that the AWS::Serverless transform makes of template.yaml."""
    return copy.deepcopy(_transformed())
