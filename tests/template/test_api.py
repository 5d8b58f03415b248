"""The API as AWS deploys it (after the SAM transform): every Chalice route reachable with the
authorizer on exactly the protected ones, API Gateway's own errors in OrderDesk's shape, and the
Cognito pieces the authorizer and the portal need."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra import api_routes
from tests.template import support
from tests.template.support import TEMPLATE

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


@pytest.fixture(scope="module")
def chalice_app() -> Any:
    return api_routes.load_app()


@pytest.fixture(scope="module")
def deployed_paths() -> dict[str, dict[str, Any]]:
    rest_apis = [r for r in support.transformed()["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    assert len(rest_apis) == 1
    return rest_apis[0]["Properties"]["Body"]["paths"]  # type: ignore[no-any-return]


def deployed_operations(paths: dict[str, dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(path, method.upper()): op for path, ops in paths.items() for method, op in ops.items()
            if method in HTTP_METHODS}


def test_the_generated_routes_block_is_current(chalice_app: Any) -> None:
    # GIVEN app.py's routes and template.yaml
    text = TEMPLATE.read_text()

    # WHEN the routes block is generated again
    regenerated = api_routes.updated_template(text, api_routes.chalice_routes(chalice_app))

    # THEN nothing changes (else: run `python -m infra.api_routes` and commit template.yaml)
    assert regenerated == text, "template.yaml's API routes are behind app.py: run `python -m infra.api_routes`"


def test_every_chalice_route_is_deployed_with_its_authorizer(chalice_app: Any, deployed_paths: dict) -> None:  # type: ignore[type-arg]
    # GIVEN the operations of the deployed API definition
    operations = deployed_operations(deployed_paths)
    api_function_uri = api_routes.invocation_uri(api_routes.API_FUNCTION_NAME)

    for route in api_routes.chalice_routes(chalice_app):
        # WHEN a Chalice route is looked up by its exact path template (Chalice dispatches on it)
        op = operations.get((route.path, route.method))

        # THEN API Gateway sends it to the API function, through the authorizer iff Chalice
        # protects it
        assert op is not None, f"{route.method} {route.path} is not in the API"
        integration = op["x-amazon-apigateway-integration"]
        assert integration["type"] == "aws_proxy" and integration["httpMethod"] == "POST"
        assert integration["uri"] == {"Fn::Sub": api_function_uri}
        assert (op.get("security") == [{api_routes.SECURITY_SCHEME: []}]) == route.authorized, route


def test_the_api_has_no_route_chalice_does_not_serve(chalice_app: Any, deployed_paths: dict) -> None:  # type: ignore[type-arg]
    served = {(r.path, r.method) for r in api_routes.chalice_routes(chalice_app)}
    assert set(deployed_operations(deployed_paths)) - served == set()


def test_integrations_and_authorizer_name_the_functions_of_the_template() -> None:
    # The URIs build ARNs from FunctionName (to avoid a dependency cycle): the names must agree.
    functions = support.functions()
    assert functions["ApiFunction"]["FunctionName"] == {"Fn::Sub": api_routes.API_FUNCTION_NAME}
    assert functions["AuthorizerFunction"]["FunctionName"] == {"Fn::Sub": api_routes.AUTHORIZER_FUNCTION_NAME}
    assert functions["AuthorizerFunction"]["Handler"] == "app.jwt_auth"
    api = support.resources("AWS::Serverless::Api")["Api"]["Properties"]
    scheme = api["DefinitionBody"]["components"]["securitySchemes"][api_routes.SECURITY_SCHEME]
    authorizer = scheme["x-amazon-apigateway-authorizer"]
    assert scheme["name"] == "Authorization" and authorizer["type"] == "token"
    assert authorizer["authorizerUri"] == {"Fn::Sub": api_routes.invocation_uri(api_routes.AUTHORIZER_FUNCTION_NAME)}


def test_the_authorizer_is_the_one_chalice_routes_use(chalice_app: Any) -> None:
    import app as app_module

    names = {e.authorizer.name for ms in chalice_app.routes.values() for e in ms.values() if e.authorizer}
    assert names == {"jwt_auth"}
    assert callable(app_module.jwt_auth)


def test_api_gateway_may_invoke_the_api_and_the_authorizer() -> None:
    permissions = support.resources("AWS::Lambda::Permission")
    targets = {support.logical_id(p["Properties"]["FunctionName"]): p["Properties"] for p in permissions.values()}
    for function in ("ApiFunction", "AuthorizerFunction"):
        assert targets[function]["Principal"] == "apigateway.amazonaws.com"
        assert "${Api}" in targets[function]["SourceArn"]["Fn::Sub"]


def _gateway_responses() -> dict[str, Any]:
    body = [r for r in support.transformed()["Resources"].values()
            if r["Type"] == "AWS::ApiGateway::RestApi"][0]["Properties"]["Body"]
    return body["x-amazon-apigateway-gateway-responses"]  # type: ignore[no-any-return]


def _body(response: dict[str, Any]) -> dict[str, Any]:
    template = response["responseTemplates"]["application/json"]
    # $context.error.messageString is a JSON string literal (quotes included) at run time
    return json.loads(template.replace("$context.error.messageString", '"the message"'))  # type: ignore[no-any-return]


def test_401_and_403_from_api_gateway_carry_the_error_body() -> None:
    # GIVEN the deployed gateway responses
    from infra.local.gateway import UNAUTHORIZED_BODY

    responses = _gateway_responses()

    # THEN no/bad token -> 401 with exactly the body the local stack sends; denied -> 403
    assert responses["UNAUTHORIZED"]["statusCode"] == "401"
    assert _body(responses["UNAUTHORIZED"]) == json.loads(UNAUTHORIZED_BODY)
    assert responses["ACCESS_DENIED"]["statusCode"] == "403"
    assert _body(responses["ACCESS_DENIED"])["error"]["code"] == "forbidden"


def test_every_gateway_response_is_an_error_body() -> None:
    for kind, response in _gateway_responses().items():
        error = _body(response)["error"]
        assert set(error) == {"code", "message", "fields"} and error["fields"] == {}, kind


def test_cognito_groups_are_the_roles() -> None:
    from orderdesk.domain.statuses import Role

    groups = {g["Properties"]["GroupName"] for g in support.resources("AWS::Cognito::UserPoolGroup").values()}
    assert groups == {r.value for r in Role} == {"viewer", "support", "billing", "admin"}


def test_tokens_are_checked_against_the_user_pool_and_the_portal_client() -> None:
    # The authorizer (and the API, for the portal's config) trust only this pool's ID tokens
    # issued to the portal's client; the hosted UI sends the user back to the portal.
    for function in ("ApiFunction", "AuthorizerFunction"):
        env = support.functions()[function]["Environment"]["Variables"]
        assert env["AUTH_ISSUER"] == {"Fn::Sub": "https://${UserPool.ProviderURL}"}
        assert env["AUTH_JWKS_URL"] == {"Fn::Sub": "https://${UserPool.ProviderURL}/.well-known/jwks.json"}
        assert env["AUTH_AUDIENCE"] == {"Ref": "PortalClient"}
    outputs = support.template()["Outputs"]
    client = support.resources("AWS::Cognito::UserPoolClient")["PortalClient"]["Properties"]
    assert outputs["PortalUrl"]["Value"] in client["CallbackURLs"]
    assert client["AllowedOAuthFlows"] == ["code"] and client["GenerateSecret"] is False  # PKCE, a public client
    for name in ("ApiUrl", "PortalUrl", "UserPoolId", "UserPoolClientId"):
        assert name in outputs


def _references(value: Any) -> set[str]:
    """Logical ids a value depends on: Ref, Fn::GetAtt and the ${...} of Fn::Sub."""
    import re

    found: set[str] = set()
    if isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg.split(".")[0] if isinstance(arg, str) else arg[0])
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                local = set(arg[1]) if isinstance(arg, list) else set()
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)} - local
                if isinstance(arg, list):
                    found |= _references(arg[1])
            else:
                found |= _references(arg)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return found


def test_the_deployed_template_has_no_dependency_cycle() -> None:
    # GIVEN the resources AWS would create and what each one references
    resources = support.transformed()["Resources"]
    graph = {lid: {d for d in _references(res.get("Properties", {})) | set(
        [res["DependsOn"]] if isinstance(res.get("DependsOn"), str) else res.get("DependsOn", []))
        if d in resources} for lid, res in resources.items()}

    # WHEN they are ordered as CloudFormation must (a depth-first topological sort)
    done: set[str] = set()

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, f"dependency cycle: {' -> '.join(path + (node,))}"
        if node in done:
            return
        for dep in graph[node]:
            visit(dep, path + (node,))
        done.add(node)

    # THEN every resource can be created after what it needs (the API names its functions by
    # FunctionName precisely so that API -> function -> app client -> API is not a cycle)
    for node in graph:
        visit(node, ())
    assert "ApiFunction" in graph["ApiInvokePermission"] and "Api" in graph["PortalClient"]
