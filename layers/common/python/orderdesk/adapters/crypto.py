"""Encryption of write-only secrets (service passwords, server credentials): `encrypt`, `decrypt`.

Fernet (AES-128-CBC + HMAC-SHA256) with the key `secret_store.secret("secrets_key")`: in AWS
fetched from Secrets Manager at first use; locally the stack generates one under `.local/`. The
plaintext is never returned by the API nor logged; only provisioning modules decrypt it, at the
moment of use."""

from __future__ import annotations

from functools import lru_cache

from ..domain.errors import PermanentError
from .secret_store import secret


@lru_cache(maxsize=4)
def _fernet(key: str):  # type: ignore[no-untyped-def]
    from cryptography.fernet import Fernet

    return Fernet(key.encode())


def _key() -> str:
    key = secret("secrets_key")
    if not key:
        raise PermanentError("SECRETS_KEY (or SECRETS_KEY_ARN) is not configured; cannot store or read secrets")
    return key


def encrypt(plaintext: str) -> str:
    return _fernet(_key()).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet(_key()).decrypt(token.encode()).decode()
