"""Bearer JWT verification with PyJWT: signature, expiry and issuer for every token, then by kind:

- a person's ID token (`token_use: id`): `aud` is the portal's client, the role is the highest
  group of `cognito:groups`;
- a machine client's access token (`token_use: access`, the client-credentials grant): no `aud`,
  `client_id` is one of the allowed machine clients and is also its `sub` (a person's access
  token has the person's `sub`, so it is refused), the role is the highest `orderdesk/<role>`
  scope; groups in an access token and scopes in an ID token count for nothing.

In AWS the keys come from the Cognito user pool's JWKS; locally from the stack's own key pair.
Only RS256 is accepted, so `alg: none` and HMAC-confusion tokens fail."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from ..config import get_settings
from ..domain.statuses import Role

ALGORITHMS = ["RS256"]
# The resource server's identifier (template.yaml): its scopes are `orderdesk/<role>`.
SCOPE_PREFIX = "orderdesk/"
ID_TOKEN = "id"
ACCESS_TOKEN = "access"


class AuthError(Exception):
    """The token is missing, malformed, forged, expired or for someone else."""


@dataclass(frozen=True)
class Principal:
    subject: str
    name: str
    role: Role | None

    @property
    def actor(self) -> str:
        return self.name or self.subject


_jwks: dict[str, Any] = {}
_jwks_lock = threading.Lock()
_pem_keys: dict[str, Any] = {}  # the local public key, parsed
_verified: dict[tuple[str, ...], tuple[float, Principal]] = {}  # token and settings -> (until, principal)
_VERIFIED_MAX = 1024
_VERIFIED_SECONDS = 300.0  # API Gateway's default authorizer cache time; never past the token's exp


def _signing_key(token: str) -> Any:
    settings = get_settings()
    if settings.auth_jwks_url:
        import jwt

        with _jwks_lock:
            client = _jwks.get(settings.auth_jwks_url)
            if client is None:
                client = jwt.PyJWKClient(settings.auth_jwks_url, cache_keys=True, lifespan=3600, timeout=5)
                _jwks[settings.auth_jwks_url] = client
        return client.get_signing_key_from_jwt(token).key
    pem = settings.public_key_pem()
    if not pem:
        raise AuthError("no verification key configured")
    key = _pem_keys.get(pem)
    if key is None:  # parsed once: parsing the PEM costs three times the signature check itself
        from jwt.algorithms import RSAAlgorithm

        key = RSAAlgorithm(RSAAlgorithm.SHA256).prepare_key(pem)
        with _jwks_lock:
            _pem_keys.clear()
            _pem_keys[pem] = key
    return key


def _highest(names: list[Any]) -> Role | None:
    roles = [Role(n) for n in names if isinstance(n, str) and n in Role._value2member_map_]
    return max(roles, key=lambda r: r.rank) if roles else None


def role_from_groups(groups: Any) -> Role | None:
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list):
        return None
    return _highest(groups)


def role_from_scopes(scope: Any) -> Role | None:
    """`scope` is space-separated (RFC 6749); each `orderdesk/<role>` grants that role, several the
    highest, anything else nothing."""
    if not isinstance(scope, str):
        return None
    return _highest([s[len(SCOPE_PREFIX):] for s in scope.split() if s.startswith(SCOPE_PREFIX)])


def verify(authorization: str | None) -> Principal:
    if not authorization:
        raise AuthError("missing Authorization header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Authorization must be 'Bearer <token>'")
    token = token.strip()
    settings = get_settings()
    # a token checked a moment ago is not checked again (API Gateway caches its authorizer's
    # answer the same way); the key names what it was checked against, so other settings or
    # another key check it afresh
    cache_key = (token, settings.auth_issuer, settings.auth_audience, settings.auth_jwks_url or "",
                 settings.public_key_pem() or "", repr(settings.auth_machine_clients))
    now = time.time()
    cached = _verified.get(cache_key)
    if cached is not None and cached[0] > now:
        return cached[1]
    # PyJWT (and cryptography under it) is loaded by the first check, not at import: the API
    # function itself never checks a token in AWS (API Gateway's authorizer does)
    import jwt

    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") not in ALGORITHMS:
            raise AuthError("unsupported token algorithm")
        claims = jwt.decode(
            token,
            key=_signing_key(token),
            algorithms=ALGORITHMS,
            issuer=settings.auth_issuer,
            # the audience depends on the kind of token, checked below: one decode, one signature check
            options={"require": ["exp", "iat", "iss", "sub", "token_use"], "verify_aud": False},
            leeway=30,
        )
    except (jwt.PyJWTError, ValueError, KeyError) as exc:
        raise AuthError(f"invalid token: {type(exc).__name__}") from exc
    use = claims["token_use"]
    if use == ID_TOKEN:
        aud = claims.get("aud")
        if not (aud == settings.auth_audience or (isinstance(aud, list) and settings.auth_audience in aud)):
            raise AuthError("ID token for another audience")
    elif use == ACCESS_TOKEN:
        # Cognito's access tokens carry no `aud`: one that does is an ID token relabelled
        if "aud" in claims or "client_id" not in claims:
            raise AuthError("an access token has a client_id and no aud")
    else:
        raise AuthError("token_use must be 'id' or 'access'")
    principal = _user(claims) if use == ID_TOKEN else _machine(claims, dict(settings.auth_machine_clients))
    with _jwks_lock:
        if len(_verified) >= _VERIFIED_MAX:
            _verified.clear()
        _verified[cache_key] = (min(float(claims["exp"]), now + _VERIFIED_SECONDS), principal)
    return principal


def _user(claims: dict[str, Any]) -> Principal:
    return Principal(
        subject=str(claims["sub"]),
        name=str(claims.get("email") or claims.get("cognito:username") or claims.get("username") or claims["sub"]),
        role=role_from_groups(claims.get("cognito:groups")),
    )


def _machine(claims: dict[str, Any], allowed: dict[str, str]) -> Principal:
    client_id = claims["client_id"]
    if not isinstance(client_id, str) or client_id not in allowed:
        raise AuthError("access token of a client that is not allowed")
    if claims["sub"] != client_id:  # a person's access token (through any client): they send their ID token
        raise AuthError("access token of a user, not of a machine client")
    # "client:" cannot be a person's name (an email), so history tells machines and people apart
    return Principal(subject=client_id, name=f"client:{allowed[client_id] or client_id}",
                     role=role_from_scopes(claims.get("scope")))


def issue_token(private_key_pem: str, role: str, *, subject: str = "local-admin", ttl_seconds: int = 12 * 3600,
                issuer: str | None = None, audience: str | None = None, email: str | None = None) -> str:
    """Sign a token the way Cognito would (local stack and tests only)."""
    import time

    import jwt

    settings = get_settings()
    now = int(time.time())
    claims = {
        "sub": subject,
        "email": email or f"{subject}@orderdesk.local",
        "cognito:groups": [role],
        "iss": issuer or settings.auth_issuer,
        "aud": audience or settings.auth_audience,
        "iat": now,
        "exp": now + ttl_seconds,
        "token_use": ID_TOKEN,
    }
    return jwt.encode(claims, private_key_pem, algorithm="RS256", headers={"kid": "local"})


def issue_access_token(private_key_pem: str, client_id: str, scopes: list[str], *, ttl_seconds: int = 3600,
                       issuer: str | None = None) -> str:
    """Sign a client-credentials access token the way Cognito would (local stack and tests only):
    `sub` and `client_id` are the client's id, `scope` is space-separated, no `aud`."""
    import time
    import uuid

    import jwt

    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": client_id,
        "client_id": client_id,
        "token_use": ACCESS_TOKEN,
        "iss": issuer or get_settings().auth_issuer,
        "auth_time": now,
        "iat": now,
        "exp": now + ttl_seconds,
        "version": 2,
        "jti": str(uuid.uuid4()),
    }
    if scopes:
        claims["scope"] = " ".join(scopes)
    return jwt.encode(claims, private_key_pem, algorithm="RS256", headers={"kid": "local"})
