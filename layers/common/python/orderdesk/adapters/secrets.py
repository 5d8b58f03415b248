"""Encryption of write-only secrets (service passwords, server credentials).

Fernet (AES-128-CBC + HMAC-SHA256) with a key from settings: in AWS the key comes from Secrets
Manager through the template; locally the stack generates one under `.local/`. The plaintext is
never returned by the API nor logged; only provisioning modules decrypt it, at the moment of use."""

from __future__ import annotations

from functools import lru_cache

from ..config import get_settings
from ..domain.errors import PermanentError


@lru_cache(maxsize=4)
def _fernet(key: str):  # type: ignore[no-untyped-def]
    from cryptography.fernet import Fernet

    return Fernet(key.encode())


def _key() -> str:
    key = get_settings().secrets_key
    if not key:
        raise PermanentError("SECRETS_KEY is not configured; cannot store or read secrets")
    return key


def encrypt(plaintext: str) -> str:
    return _fernet(_key()).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet(_key()).decrypt(token.encode()).decode()
