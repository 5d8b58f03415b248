"""Sign-in as deployed: the resource server whose scopes are the roles, the machine clients the
authorizer allows, and the pool's hardening (MFA, no implicit flow, email not writable by users);
API Gateway's access log."""

from __future__ import annotations

import json
import re
from typing import Any

from orderdesk.api.auth import SCOPE_PREFIX
from orderdesk.domain.statuses import Role
from tests.template import support

CLIENTS = support.resources("AWS::Cognito::UserPoolClient")
USER_FLOWS = {"ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_CUSTOM_AUTH",
              "ALLOW_USER_AUTH", "USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH", "CUSTOM_AUTH_FLOW_ONLY"}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resource_server() -> dict[str, Any]:
    (server,) = support.resources("AWS::Cognito::UserPoolResourceServer").values()
    return server["Properties"]  # type: ignore[no-any-return]


def _machine_clients() -> dict[str, dict[str, Any]]:
    return {lid: c["Properties"] for lid, c in CLIENTS.items()
            if "client_credentials" in c["Properties"].get("AllowedOAuthFlows", [])}


def test_the_resource_server_s_scopes_are_the_roles() -> None:
    # the authorizer reads orderdesk/<role>: the identifier and the scope names must be exactly those
    server = _resource_server()
    assert server["Identifier"] + "/" == SCOPE_PREFIX
    assert {s["ScopeName"] for s in server["Scopes"]} == {r.value for r in Role}


def test_the_storefront_client_gets_support_tokens_by_client_credentials_only() -> None:
    storefront = CLIENTS["StorefrontClient"]
    props = storefront["Properties"]
    assert props["AllowedOAuthFlows"] == ["client_credentials"] and props["AllowedOAuthFlowsUserPoolClient"] is True
    assert props["AllowedOAuthScopes"] == [f"{SCOPE_PREFIX}{Role.SUPPORT.value}"]
    assert props["GenerateSecret"] is True  # the grant needs a secret
    # nobody signs in through it (no ExplicitAuthFlows would mean SRP, password and custom auth)
    assert "ExplicitAuthFlows" in props and not set(props["ExplicitAuthFlows"]) & USER_FLOWS
    # its scope exists before it does
    assert "ApiResourceServer" in _as_list(storefront.get("DependsOn", []))


def test_every_machine_client_is_allowed_by_the_authorizer_and_the_api() -> None:
    # GIVEN the clients with the client-credentials grant
    machines = set(_machine_clients())
    assert machines == {"StorefrontClient"}
    for function in ("AuthorizerFunction", "ApiFunction"):
        # THEN the authorizer's (and the API's) AUTH_MACHINE_CLIENT_IDS names each, `name=<its id>`
        value = support.functions()[function]["Environment"]["Variables"]["AUTH_MACHINE_CLIENT_IDS"]
        text = value["Fn::Sub"]
        listed = dict(entry.split("=") for entry in text.split(","))
        assert {re.fullmatch(r"\$\{(\w+)\}", ref)[1] for ref in listed.values()} == machines  # type: ignore[index]
        assert listed["storefront"] == "${StorefrontClient}"


def test_no_client_allows_the_implicit_flow() -> None:
    # tokens in a URL fragment end up in browser history and referrers; the portal uses code + PKCE
    for lid, client in CLIENTS.items():
        assert "implicit" not in client["Properties"].get("AllowedOAuthFlows", []), lid
    assert CLIENTS["PortalClient"]["Properties"]["AllowedOAuthFlows"] == ["code"]


def test_no_client_lets_a_user_change_their_email() -> None:
    # email is the actor of history and of the activity log; without WriteAttributes every
    # writable attribute is writable, email included
    for lid, client in CLIENTS.items():
        writable = client["Properties"].get("WriteAttributes")
        assert writable is not None, f"{lid} lets users write every attribute"
        assert "email" not in writable and "email_verified" not in writable, lid


def test_the_pool_requires_an_authenticator_app_of_every_user() -> None:
    (pool,) = support.resources("AWS::Cognito::UserPool").values()
    props = pool["Properties"]
    assert props["MfaConfiguration"] == "ON"
    assert props["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]


def test_api_gateway_writes_a_json_access_log_to_a_group_with_retention() -> None:
    # GIVEN the API's access log setting
    api = support.template()["Resources"]["Api"]
    setting = api["Properties"]["AccessLogSetting"]
    # THEN it goes to a log group of the stack that expires
    group = support.template()["Resources"][support.logical_id(setting["DestinationArn"])]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    # AND each line is one JSON object with the request id (API Gateway requires it), the
    # status and who called (the authorizer's principal: a person, or client:<name>)
    line = json.loads(setting["Format"])
    assert line["requestId"] == "$context.requestId"
    assert {"status", "principal", "actor", "resource"} <= set(line)
    # AND the account's CloudWatch Logs role is set before the stage (logging needs it)
    assert "ApiGatewayAccount" in _as_list(api.get("DependsOn", []))
    account = support.resources("AWS::ApiGateway::Account")["ApiGatewayAccount"]["Properties"]
    role = support.template()["Resources"][support.logical_id(account["CloudWatchRoleArn"])]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "apigateway.amazonaws.com"}
