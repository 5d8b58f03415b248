"""Every protected operation × every kind of bad token, generated from the app's route table so a
new route cannot be missed; every role (a person's group, a machine client's scope) against each
route's minimum role; and what a machine client's token may do and is recorded as."""

from __future__ import annotations

import base64
import json
import re
import time

import jwt
import pytest

from orderdesk.domain.statuses import Role
from tests.conftest import STOREFRONT_CLIENT_ID

ROLES = [Role.VIEWER, Role.SUPPORT, Role.BILLING, Role.ADMIN]


def protected_routes():
    import app as app_module

    return [(s.method, s.path, s.role) for s in app_module.api.specs if s.role is not None]


def concrete(path: str) -> str:
    return re.sub(r"{\w+}", "x0", path)


def test_route_table_and_chalice_agree():
    import app as app_module

    # GIVEN the registry and Chalice's own route table
    registered = {(s.method, s.path) for s in app_module.api.specs}
    chalice_routes = {(m, p) for p, methods in app_module.app.routes.items() for m in methods}
    # THEN every registry route is served, and every served API route (bar documents) is registered
    assert registered <= chalice_routes
    extra = {r for r in chalice_routes - registered if not r[1].startswith(("/openapi", "/portal")) and r[1] != "/"}
    assert extra == set(), f"routes outside the registry escape auth/validation: {extra}"


def hs256_confusion(claims, public_pem: str) -> str:
    """The classic algorithm-confusion forgery: HMAC the token with the RSA public key."""
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    signing_input = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
    sig = hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(sig)


def bad_tokens(keypair):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    now = int(time.time())
    good = {"sub": "u1", "cognito:groups": ["admin"], "iss": "orderdesk-test", "aud": "orderdesk",
            "iat": now, "exp": now + 600, "token_use": "id"}
    # a machine client's access token as Cognito's client-credentials grant makes it: no aud
    machine = {"sub": STOREFRONT_CLIENT_ID, "client_id": STOREFRONT_CLIENT_ID, "token_use": "access",
               "scope": "orderdesk/admin", "iss": "orderdesk-test", "iat": now, "exp": now + 600}

    def sign(claims, key=keypair["private"], alg="RS256"):
        return jwt.encode(claims, key, algorithm=alg)

    def b64(d):
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")

    return {
        "none": None,
        "malformed": "Bearer not.a.jwt",
        "not bearer": "Basic dXNlcjpwYXNz",
        "empty bearer": "Bearer ",
        "bad signature": "Bearer " + sign(good, other),
        "expired": "Bearer " + sign({**good, "iat": now - 7200, "exp": now - 3600}),
        "wrong issuer": "Bearer " + sign({**good, "iss": "someone-else"}),
        "wrong audience": "Bearer " + sign({**good, "aud": "another-app"}),
        "alg none": "Bearer " + b64({"alg": "none", "typ": "JWT"}) + "." + b64(good) + ".",
        "hs256 signed with the public key": "Bearer " + hs256_confusion(good, keypair["public"]),
        "missing exp": "Bearer " + sign({k: v for k, v in good.items() if k != "exp"}),
        "ID token without token_use": "Bearer " + sign({k: v for k, v in good.items() if k != "token_use"}),
        "unknown token_use": "Bearer " + sign({**good, "token_use": "refresh"}),
        # an access token where an ID token is expected: a person's, even through a listed client
        "a person's access token": "Bearer " + sign(
            {**machine, "sub": "u1", "username": "u1", "cognito:groups": ["admin"], "client_id": "portal-client",
             "scope": "aws.cognito.signin.user.admin"}),
        "a person's access token through the storefront client": "Bearer " + sign(
            {**machine, "sub": "u1", "username": "u1", "cognito:groups": ["admin"],
             "scope": "aws.cognito.signin.user.admin orderdesk/admin"}),
        # an ID token where an access token is expected: the machine client's claims, token_use id
        "ID token of the machine client": "Bearer " + sign({**machine, "token_use": "id", "aud": STOREFRONT_CLIENT_ID}),
        "access token with the portal's aud": "Bearer " + sign({**machine, "aud": "orderdesk"}),
        "access token without client_id": "Bearer " + sign({k: v for k, v in machine.items() if k != "client_id"}),
        "access token of an unlisted client": "Bearer " + sign({**machine, "sub": "other", "client_id": "other"}),
        "expired access token": "Bearer " + sign({**machine, "iat": now - 7200, "exp": now - 3600}),
        "access token with a bad signature": "Bearer " + sign(machine, other),
        "access token of another issuer": "Bearer " + sign({**machine, "iss": "someone-else"}),
    }


@pytest.mark.parametrize("method,path,role", protected_routes())
def test_bad_tokens_get_401(client, keypair, method, path, role):
    for name, header in bad_tokens(keypair).items():
        headers = {"Content-Type": "application/json"}
        if header is not None:
            headers["Authorization"] = header
        r = client.http.request(method, concrete(path), headers=headers, body=b"{}")
        assert r.status_code == 401, (name, method, path, r.status_code, r.body)
        assert json.loads(r.body)["error"]["code"] == "unauthorized", name


@pytest.mark.parametrize("method,path,role", protected_routes())
def test_roles_below_the_minimum_get_403(client, token, method, path, role):
    for have in ROLES:
        headers = {"Authorization": f"Bearer {token(have.value)}", "Content-Type": "application/json"}
        r = client.http.request(method, concrete(path), headers=headers, body=b"{}")
        if have.allows(role):
            assert r.status_code not in (401, 403), (have, method, path, r.body)
        else:
            assert r.status_code == 403, (have, method, path, r.status_code)
            assert json.loads(r.body)["error"]["code"] == "forbidden"


@pytest.mark.parametrize("method,path,role", protected_routes())
def test_machine_scopes_below_the_minimum_get_403(client, machine_token, method, path, role):
    # a scope grants its role, as the group of the same name does, and never more
    for have in ROLES:
        headers = {"Authorization": f"Bearer {machine_token(f'orderdesk/{have.value}')}",
                   "Content-Type": "application/json"}
        r = client.http.request(method, concrete(path), headers=headers, body=b"{}")
        if have.allows(role):
            assert r.status_code not in (401, 403), (have, method, path, r.body)
        else:
            assert r.status_code == 403, (have, method, path, r.status_code)
            assert json.loads(r.body)["error"]["code"] == "forbidden"


def test_token_without_a_known_group_is_403(client, token):
    headers = {"Authorization": f"Bearer {token('guest')}"}
    assert client.http.get("/orders", headers=headers).status_code == 403


def test_health_and_openapi_are_public(client):
    assert json.loads(client.http.get("/health").body) == {"status": "ok"}
    doc = json.loads(client.http.get("/openapi.json").body)
    assert doc["openapi"].startswith("3.")
    assert "/orders" in doc["paths"] and "get" in doc["paths"]["/orders"]


def test_openapi_is_valid_and_documents_every_route(client):
    from openapi_spec_validator import validate

    import app as app_module

    doc = json.loads(client.http.get("/openapi.json").body)
    validate(doc)
    for spec in app_module.api.specs:
        op = doc["paths"][spec.path][spec.method.lower()]
        assert str(spec.status) in op["responses"]
        if spec.role is not None:
            assert {"401", "403"} <= set(op["responses"]) and op["x-required-role"] == spec.role.value


# -- machine clients: a storefront's access token ---------------------------------------------


def call(client, bearer: str, method: str, path: str, body: object = None):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"}
    r = client.http.request(method, path, headers=headers, body=json.dumps(body).encode() if body is not None else b"")
    return r.status_code, (json.loads(r.body) if r.body else None)


def test_a_storefront_token_places_an_order_named_in_history_and_cannot_cancel_it(client, machine_token):
    # GIVEN the storefront's client-credentials token with the support scope
    storefront = machine_token("orderdesk/support")
    # WHEN it adds a client and places an order for it
    status, new_client = call(client, storefront, "POST", "/clients", {
        "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "country": "GB"})
    assert status == 201, new_client
    status, order = call(client, storefront, "POST", "/orders", {
        "client_id": new_client["id"], "payment_method": "banktransfer",
        "items": [{"kind": "product", "description": "VPS 2GB", "amount": "15.00"}]})
    # THEN both succeed, and the order's history names the client, not a person
    assert status == 201, order
    status, detail = call(client, storefront, "GET", f"/orders/{order['id']}")
    assert status == 200
    assert [h["actor"] for h in detail["history"]] and {h["actor"] for h in detail["history"]} == {"client:storefront"}
    # WHEN it tries to cancel the order (billing)
    status, body = call(client, storefront, "POST", f"/orders/{order['id']}/cancel", {"refund": False})
    # THEN it is refused for its role, and the order is still Pending
    assert status == 403 and body["error"]["code"] == "forbidden", body
    assert call(client, storefront, "GET", f"/orders/{order['id']}")[1]["status"] == "Pending"


@pytest.mark.parametrize("scope", ["", "openid", "orderdesk/superuser other/admin", "orderdeskx/admin admin"])
def test_an_access_token_with_no_orderdesk_scope_is_403(client, machine_token, scope):
    # GIVEN a genuine token of an allowed client whose scopes name no OrderDesk role (or none at all):
    # it is who it says it is, it may just do nothing, as a person in no group (so 403, not 401)
    bearer = machine_token(*scope.split())
    # WHEN it reads THEN it is refused for its role
    status, body = call(client, bearer, "GET", "/orders")
    assert status == 403 and body["error"]["code"] == "forbidden", (scope, body)


def test_an_unlisted_client_is_401_though_its_token_is_genuine(client, machine_token):
    # GIVEN a well-signed access token with the admin scope, of a client not in AUTH_MACHINE_CLIENT_IDS
    bearer = machine_token("orderdesk/admin", client_id="some-other-client")
    # WHEN it reads THEN it is not let in
    status, body = call(client, bearer, "GET", "/orders")
    assert status == 401 and body["error"]["code"] == "unauthorized"


def test_groups_in_an_access_token_and_scopes_in_an_id_token_count_for_nothing(client, keypair):
    now = int(time.time())
    base = {"iss": "orderdesk-test", "iat": now, "exp": now + 600}
    # GIVEN the storefront's viewer token that also claims the admin group
    access = jwt.encode({**base, "sub": STOREFRONT_CLIENT_ID, "client_id": STOREFRONT_CLIENT_ID, "token_use": "access",
                         "scope": "orderdesk/viewer", "cognito:groups": ["admin"]}, keypair["private"], algorithm="RS256")
    # AND a person's viewer ID token that also claims the admin scope
    id_token = jwt.encode({**base, "sub": "u2", "aud": "orderdesk", "token_use": "id", "email": "v@example.com",
                           "cognito:groups": ["viewer"], "scope": "orderdesk/admin"}, keypair["private"], algorithm="RS256")
    for bearer in (access, id_token):
        # WHEN either adds a client (support) THEN it is a viewer: it reads, and is refused the write
        assert call(client, bearer, "GET", "/orders")[0] == 200
        status, body = call(client, bearer, "POST", "/clients", {
            "first_name": "Eve", "last_name": "X", "email": "eve@example.com", "country": "GB"})
        assert status == 403 and body["error"]["code"] == "forbidden", body
