"""Least privilege, checked on the IAM roles AWS would create (after the SAM transform, so the
policies SAM adds on its own for event sources and tracing are checked too)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.template import support

# AWS managed policies a role may carry: logs and traces only, no data access.
ALLOWED_MANAGED = {"AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess"}
# Services whose actions read or change data (or run code that does).
DATA_SERVICES = {"dynamodb", "sqs", "states", "lambda", "secretsmanager", "ses", "s3", "kms", "sns", "events",
                 "scheduler", "cognito-idp"}
# Actions AWS only grants on "*" (no resource-level permissions), none of them touching data:
# CloudWatch Logs delivery for Step Functions logging, X-Ray.
WILDCARD_ONLY = {
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
}

ROLES = {lid: r["Properties"] for lid, r in support.transformed()["Resources"].items() if r["Type"] == "AWS::IAM::Role"}


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for policy in role.get("Policies", []):
        found = policy["PolicyDocument"]["Statement"]
        out.extend(found if isinstance(found, list) else [found])
    return out


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def is_wildcard(resource: Any) -> bool:
    """"*" itself, or an ARN whose resource part is only a wildcard (arn:aws:sqs:*:*:*)."""
    if resource == "*":
        return True
    text = resource.get("Fn::Sub") if isinstance(resource, dict) else resource
    if isinstance(text, list):
        text = text[0]
    return isinstance(text, str) and text.startswith("arn:") and text.split(":", 5)[-1] in {"*", "*/*"}


def test_every_function_and_state_machine_has_a_role_checked_here() -> None:
    assert ROLES, "the transform made no IAM role"
    functions = [r for r in support.transformed()["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert functions and all("Role" in f["Properties"] for f in functions)


@pytest.mark.parametrize("role_id", sorted(ROLES))
def test_role_uses_no_broad_managed_policy(role_id: str) -> None:
    # e.g. AWSLambdaSQSQueueExecutionRole or AWSLambdaDynamoDBExecutionRole, which SAM attaches
    # to the roles it generates for SQS and stream events: they allow every queue and stream
    arns = [a.get("Fn::Sub", str(a)) if isinstance(a, dict) else a for a in ROLES[role_id].get("ManagedPolicyArns", [])]
    names = {a.rsplit("/", 1)[-1] for a in arns}
    assert names <= ALLOWED_MANAGED, f"{role_id} carries {names - ALLOWED_MANAGED}"


@pytest.mark.parametrize("role_id", sorted(ROLES))
def test_role_grants_data_actions_on_named_resources_only(role_id: str) -> None:
    for statement in statements(ROLES[role_id]):
        if statement.get("Effect") != "Allow":
            continue
        actions = as_list(statement.get("Action", []))
        assert "NotAction" not in statement and "NotResource" not in statement, statement
        for action in actions:
            assert action != "*" and not action.endswith(":*"), f"{role_id}: {action}"
        data = [a for a in actions if a.split(":")[0] in DATA_SERVICES]
        wide = [r for r in as_list(statement.get("Resource", [])) if is_wildcard(r)]
        if wide:
            assert not data, f"{role_id} allows {data} on {wide}"
            assert set(actions) <= WILDCARD_ONLY, f"{role_id} allows {actions} on *"


def test_the_checks_catch_a_wildcard() -> None:
    # GIVEN a statement like the one SAM's managed SQS policy has
    role = {"Policies": [{"PolicyDocument": {"Statement": [
        {"Effect": "Allow", "Action": ["sqs:ReceiveMessage"], "Resource": "*"}]}}]}
    # THEN it is seen as data on a wildcard
    (statement,) = statements(role)
    assert is_wildcard(statement["Resource"]) and is_wildcard("arn:aws:sqs:*:*:*")
    assert not is_wildcard({"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${Q}"})


# -- write-only secrets: the KMS key's permissions (issue 17) ----------------------------------------

SECRETS_KEY_ARN = {"Fn::GetAtt": ["SecretsKmsKey", "Arn"]}
PURPOSES = {"item-password", "server-credentials"}
# the steps that run module commands: they read a server's credentials (and an item's password);
# the connection test of a server (POST /servers/{id}/test, run apart from the API): credentials only
DECRYPTERS = {"ProvisionItemFunctionRole": PURPOSES, "ItemCommandFunctionRole": PURPOSES,
              "TerminateItemFunctionRole": {"server-credentials"}, "ServerCheckFunctionRole": {"server-credentials"}}


def kms_grants(role: dict[str, Any]) -> list[tuple[set[str], Any, set[str]]]:
    """(KMS actions, resource, purposes the encryption context must name) of each statement."""
    out = []
    for statement in statements(role):
        actions = {a for a in as_list(statement.get("Action", [])) if a.startswith("kms:")}
        if actions and statement.get("Effect") == "Allow":
            purpose = statement.get("Condition", {}).get("StringEquals", {}).get("kms:EncryptionContext:purpose")
            out.append((actions, statement.get("Resource"), set(as_list(purpose)) if purpose else set()))
    return out


def test_only_the_module_steps_and_the_connection_test_may_decrypt_secrets() -> None:
    # GIVEN every role of the deployed stack
    decrypting = {lid: set().union(*(p for actions, _, p in kms_grants(role) if "kms:Decrypt" in actions))
                  for lid, role in ROLES.items() if any("kms:Decrypt" in a for a, _, _ in kms_grants(role))}
    # THEN only the provisioning, item command and terminate steps and the connection test of a
    # server may Decrypt, each for its purposes
    assert decrypting == DECRYPTERS
    # AND the API runs the connection test by invoking that function (it may not decrypt itself)
    env = support.functions()["ApiFunction"]["Environment"]["Variables"]
    assert env["SERVER_CHECK_FUNCTION_NAME"] == {"Ref": "ServerCheckFunction"}


def test_the_api_may_only_generate_data_keys_and_holds_no_fernet_secret() -> None:
    # GIVEN the internet-facing API's role and environment
    grants = kms_grants(ROLES["ApiFunctionRole"])
    env = support.functions()["ApiFunction"]["Environment"]["Variables"]
    # THEN it may GenerateDataKey under the secrets key, for passwords and credentials, and nothing
    # else of KMS (no Decrypt, no Encrypt of its own plaintext data keys, no ReEncrypt)
    assert grants == [({"kms:GenerateDataKey"}, SECRETS_KEY_ARN, PURPOSES)]
    assert env["SECRETS_KMS_KEY_ID"] == SECRETS_KEY_ARN
    # AND the Fernet key of before is neither in its environment nor readable by it
    assert "SECRETS_KEY" not in env and "SECRETS_KEY_ARN" not in env
    readable = {ref for s in statements(ROLES["ApiFunctionRole"])
                if "secretsmanager:GetSecretValue" in as_list(s.get("Action", []))
                for ref in re.findall(r'"Ref": "(\w+)"', json.dumps(s["Resource"]))}
    # (it reads the cursor key, and the signing secrets of the routes without a token: the
    # registrar's for POST /registrar/events, Stripe's for its webhook)
    assert "SecretsKey" not in readable
    assert readable == {"CursorSecret", "RegistrarWebhookSecret", "StripeWebhookSecret"}


def test_every_kms_permission_names_the_secrets_key_and_a_purpose() -> None:
    # GIVEN every KMS statement of every role (the API's and the decrypting steps' at least)
    grants = [(lid, grant) for lid, role in ROLES.items() for grant in kms_grants(role)]
    assert {lid for lid, _ in grants} >= {"ApiFunctionRole", *DECRYPTERS}
    for lid, (actions, resource, purposes) in grants:
        # THEN it is on the secrets key alone, for the data-key actions only, and only for values
        # whose encryption context names a purpose of OrderDesk's
        assert resource == SECRETS_KEY_ARN, f"{lid}: {actions} on {resource}"
        assert actions <= {"kms:GenerateDataKey", "kms:Decrypt"}, f"{lid}: {actions}"
        assert purposes and purposes <= PURPOSES, f"{lid}: {actions} for {purposes or 'any context'}"


def test_the_secrets_key_is_customer_managed_rotated_and_retained() -> None:
    key = support.resources("AWS::KMS::Key")["SecretsKmsKey"]
    assert key["Properties"]["EnableKeyRotation"] is True and key["Properties"]["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"
    # the key policy delegates to the account's IAM policies (the roles above), to no other principal
    (statement,) = key["Properties"]["KeyPolicy"]["Statement"]
    assert statement["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
