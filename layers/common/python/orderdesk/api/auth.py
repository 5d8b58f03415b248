"""Bearer JWT verification: signature, expiry, issuer and audience with PyJWT; roles from the
`cognito:groups` claim. In AWS the keys come from the Cognito user pool's JWKS; locally from the
stack's own key pair. Only RS256 is accepted, so `alg: none` and HMAC-confusion tokens fail."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from ..config import get_settings
from ..domain.statuses import Role

ALGORITHMS = ["RS256"]


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


def role_from_groups(groups: Any) -> Role | None:
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list):
        return None
    roles = [Role(g) for g in groups if isinstance(g, str) and g in Role._value2member_map_]
    return max(roles, key=lambda r: r.rank) if roles else None


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
                 settings.public_key_pem() or "")
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
            audience=settings.auth_audience,
            issuer=settings.auth_issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            leeway=30,
        )
    except AuthError:
        raise
    except (jwt.PyJWTError, ValueError, KeyError) as exc:
        raise AuthError(f"invalid token: {type(exc).__name__}") from exc
    principal = Principal(
        subject=str(claims["sub"]),
        name=str(claims.get("email") or claims.get("cognito:username") or claims.get("username") or claims["sub"]),
        role=role_from_groups(claims.get("cognito:groups")),
    )
    with _jwks_lock:
        if len(_verified) >= _VERIFIED_MAX:
            _verified.clear()
        _verified[cache_key] = (min(float(claims["exp"]), now + _VERIFIED_SECONDS), principal)
    return principal


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
        "token_use": "id",
    }
    return jwt.encode(claims, private_key_pem, algorithm="RS256", headers={"kid": "local"})
