"""Every protected operation × every kind of bad token, generated from the app's route table so a
new route cannot be missed; and every role against each route's minimum role."""

from __future__ import annotations

import base64
import json
import re
import time

import jwt
import pytest

from orderdesk.domain.statuses import Role

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
            "iat": now, "exp": now + 600}

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
