"""Opaque, tamper-evident page cursors: the position plus a fingerprint of the filters, signed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from ..adapters.secret_store import secret
from ..domain.errors import ValidationFailed

# Signs cursors when no key is configured (the local stack and the tests set one; AWS fetches one).
_LOCAL_KEY = "orderdesk-local-cursor-secret"
_BAD = "is not a cursor this API issued (tampered, truncated or from other filters)"


def _sign(payload: bytes) -> str:
    key = (secret("cursor_secret") or _LOCAL_KEY).encode()
    return base64.urlsafe_b64encode(hmac.new(key, payload, hashlib.sha256).digest()[:16]).decode().rstrip("=")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fingerprint(filters: dict[str, object]) -> str:
    canon = json.dumps({k: str(v) for k, v in sorted(filters.items()) if v is not None}, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def encode(position: str, filters_fingerprint: str) -> str:
    payload = json.dumps({"p": position, "f": filters_fingerprint}, separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_sign(payload)}"


def decode(cursor: str, filters_fingerprint: str) -> str:
    try:
        body, sig = cursor.split(".", 1)
        payload = _unb64(body)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("bad cursor", {"cursor": _BAD}) from exc
    # as bytes: compare_digest refuses a str with non-ASCII characters (a TypeError, so a 500)
    if not hmac.compare_digest(sig.encode(), _sign(payload).encode()):
        raise ValidationFailed("bad cursor", {"cursor": _BAD})
    try:
        data = json.loads(payload)
        position, fp = str(data["p"]), str(data["f"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationFailed("bad cursor", {"cursor": _BAD}) from exc
    if fp != filters_fingerprint:
        raise ValidationFailed("bad cursor", {"cursor": _BAD})
    return position
