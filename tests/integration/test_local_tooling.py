"""The local stack's share of operator tooling: the portal's "Sign in locally as ..." route, which
the local gateway serves and the deployed API does not have; and the export bucket and function
the stack makes from template.yaml (moto's S3, the function's name where the API reads it)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from infra import api_routes
from infra.local import resources
from infra.local import template_wiring as tw
from infra.local.env import ROLES
from infra.local.http_server import LocalHttpServer
from infra.local.moto_server import MotoServer
from infra.local.sign_in import PATH, LocalSignIn
from infra.local.table import load_template
from tests.template import support


@pytest.fixture()
def local_gateway(chalice_app: Any, keypair: dict[str, str], table: str) -> Iterator[str]:
    """The app behind the local gateway on a free port of 127.0.0.1, signing in with the test key."""
    from orderdesk.api.auth import issue_token

    def issue(role: str, ttl_seconds: int) -> str:
        return issue_token(keypair["private"], role, subject=f"local-{role}", ttl_seconds=ttl_seconds)

    server = LocalHttpServer(chalice_app, "127.0.0.1", 0, sign_in=LocalSignIn(issue))
    server.serve()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


def call(url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None,
         raw: bytes | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_signing_in_locally_as_each_role_gives_a_token_of_that_role(local_gateway):
    # GIVEN the roles the sign-in page offers
    status, offered = call(f"{local_gateway}{PATH}")
    assert status == 200 and offered == {"roles": list(ROLES)}
    for role in ROLES:
        # WHEN the portal signs in as it
        status, answer = call(f"{local_gateway}{PATH}", "POST", {"role": role})
        assert status == 200 and answer["role"] == role and answer["expires_at"].endswith("Z"), answer
        bearer = {"Authorization": f"Bearer {answer['token']}"}
        # THEN the token reads, and may add a client exactly when the role is support or higher
        assert call(f"{local_gateway}/orders?limit=1", headers=bearer)[0] == 200
        added, _ = call(f"{local_gateway}/clients", "POST", {"first_name": "A", "last_name": "B",
                                                             "email": "a@example.com", "country": "GB"}, bearer)
        assert added == (403 if role == "viewer" else 201), (role, added)


def test_local_sign_in_refuses_an_unknown_role_a_form_and_other_methods(local_gateway):
    status, answer = call(f"{local_gateway}{PATH}", "POST", {"role": "root"})
    assert status == 400 and "role" in answer["error"]["fields"]
    status, _ = call(f"{local_gateway}{PATH}", "POST", raw=b"role=admin",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415  # a page elsewhere cannot make a browser post a plain form for a token
    assert call(f"{local_gateway}{PATH}", "DELETE")[0] == 405


def test_local_sign_in_answers_this_machine_only():
    # GIVEN the route's handler and a caller from another address (no traffic leaves 127.0.0.1:
    # the address is what the server would see)
    sign_in = LocalSignIn(lambda role, ttl: "token")
    # WHEN it asks for a token THEN 403, and from loopback (IPv4, IPv6, mapped) it gets one
    assert sign_in.answer("POST", "203.0.113.9", {"Content-Type": "application/json"}, b'{"role": "admin"}')[0] == 403
    for host in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        assert sign_in.answer("POST", host, {"Content-Type": "application/json"}, b'{"role": "admin"}')[0] == 200


def test_the_deployed_api_has_no_local_sign_in_route(chalice_app, client):
    # GIVEN the routes the API serves (app.py) and the ones API Gateway is given (template.yaml, as AWS deploys it)
    served = {(r.path, r.method) for r in api_routes.chalice_routes(chalice_app)}
    rest_api = next(r for r in support.transformed()["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi")
    deployed = set(rest_api["Properties"]["Body"]["paths"])
    # THEN neither has the local sign-in path, nor anything under /local
    assert not [p for p, _ in served if p.startswith("/local")]
    assert not [p for p in deployed if p.startswith("/local")]
    # AND the app itself answers it with no token for anyone
    for method in ("GET", "POST"):
        r = client.http.request(method, PATH, headers={"Content-Type": "application/json"}, body=b'{"role": "admin"}')
        assert r.status_code in (403, 404) and b"token" not in r.body, (method, r.status_code, r.body)


# -- the export bucket and function, from template.yaml --------------------------------------------


@pytest.fixture()
def moto_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    server = MotoServer()
    server.start()
    server.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", server.endpoint)
    yield server
    server.reset()
    server.stop()


def test_the_local_stack_makes_the_templates_bucket_with_its_settings(moto_s3):
    # GIVEN template.yaml's buckets
    template = load_template()
    resolver = tw.Resolver.for_template(template)
    # WHEN the local stack makes them in moto
    made = resources.create_buckets(template, resolver)
    # THEN the export bucket exists, encrypted, closed to the public, its files expiring after 7
    # days, and its name is what `!Ref ExportBucket` gives the functions
    assert set(made) == set(support.resources("AWS::S3::Bucket")) == {"ExportBucket"}
    s3 = boto3.client("s3", region_name="us-east-1")
    name = made["ExportBucket"]
    rules = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    assert all(block[k] for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"))
    (rule,) = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    assert rule["Expiration"]["Days"] == 7 and rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1
    assert resolver.resolve({"Ref": "ExportBucket"}) == name


def test_the_api_is_told_the_export_functions_local_name(moto_s3):
    # GIVEN the template's functions and resources as the local stack resolves them
    template = load_template()
    resolver = tw.Resolver.for_template(template)
    functions = tw.functions_in(template, resolver)
    resources.create_buckets(template, resolver)
    resources.register_functions(functions, resolver)
    # WHEN the environment the template gives the functions is worked out
    env = tw.function_environment(functions, resolver)
    # THEN the API is pointed at the export function by the name moto's Invoke route serves it by,
    # and at the bucket
    from infra.local.statemachines import lambda_functions_from_template

    assert env["EXPORT_FUNCTION_NAME"] in lambda_functions_from_template()
    assert env["EXPORT_FUNCTION_NAME"] == "ExportOrdersFunction"
    assert env["EXPORT_BUCKET"] == "orderdesk-exportbucket"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "OrderDesk/orderdesk"
