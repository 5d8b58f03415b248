"""Write-only secrets (service passwords, server credentials), encrypted at rest: `encrypt`,
`decrypt`, and the encryption context naming the record a value belongs to (`item_context`,
`server_context`).

Envelope encryption with AWS KMS: each value gets a data key of its own (GenerateDataKey, AES-256,
under the customer managed key `SECRETS_KMS_KEY_ID`), is sealed here with AES-GCM, and only the
data key's ciphertext is kept beside it. The encryption context names the record: KMS binds it to
the data key and AES-GCM to the value, so a ciphertext copied onto another item or server does not
decrypt there. That is also how the key's permissions are split (template.yaml): the internet-
facing API may only GenerateDataKey (it stores secrets, it never reads them back); only the
workflow steps that run module commands may Decrypt, each for the purposes it needs.

Stored: `kms1:<encrypted data key>:<nonce + ciphertext + tag>` (base64). A value without that
prefix is a Fernet token from before KMS (the key `secret_store.secret("secrets_key")`): still
decrypted where that key is configured, and re-encrypted with KMS by `infra.local.migrate_secrets`.

KMS is reached through `aws.client("kms")` (built on first use, never at import), its failures
translated by `aws.translated`: a throttle or 5xx is `StorageUnavailable` (retried), anything
else a `PermanentError` saying what, never quoting a value."""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from functools import lru_cache

from ..config import get_settings
from ..domain.errors import PermanentError
from . import aws
from .secret_store import quiet_botocore_bodies, secret

PREFIX = "kms1:"
ITEM_PASSWORD = "item-password"
SERVER_CREDENTIALS = "server-credentials"
_NONCE_BYTES = 12


def item_context(order_id: str, item_id: str) -> dict[str, str]:
    """The context of an order item's account password."""
    return {"purpose": ITEM_PASSWORD, "order_id": order_id, "item_id": item_id}


def server_context(server_id: str) -> dict[str, str]:
    """The context of a server's credentials."""
    return {"purpose": SERVER_CREDENTIALS, "server_id": server_id}


def is_kms(stored: str) -> bool:
    """Whether `stored` is a KMS envelope (else a Fernet token from before)."""
    return stored.startswith(PREFIX)


def encrypt(plaintext: str, context: Mapping[str, str]) -> str:
    """`plaintext` sealed under a new data key bound to `context`."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    quiet_botocore_bodies()  # the answer holds the plaintext data key
    with aws.translated("KMS", rejected=PermanentError):
        answer = aws.client("kms").generate_data_key(KeyId=_key_id(), KeySpec="AES_256",
                                                     EncryptionContext=dict(context))
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(answer["Plaintext"]).encrypt(nonce, plaintext.encode(), _aad(context))
    return PREFIX + _b64(answer["CiphertextBlob"]) + ":" + _b64(nonce + sealed)


def decrypt(stored: str, context: Mapping[str, str]) -> str:
    """The plaintext of `stored`, which must have been encrypted for `context`: a value of
    another record, or altered, is a PermanentError (retrying cannot help)."""
    if not is_kms(stored):
        return _fernet_decrypt(stored)
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        wrapped, sealed = (base64.b64decode(part, validate=True) for part in stored[len(PREFIX):].split(":"))
    except (ValueError, binascii.Error) as exc:
        raise PermanentError(f"cannot read the stored {_what(context)}: not a KMS envelope") from exc
    data_key = _unwrap(wrapped, context)
    try:
        return AESGCM(data_key).decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], _aad(context)).decode()
    except InvalidTag as exc:
        raise PermanentError(f"cannot read the stored {_what(context)}: encrypted for another record, "
                             "or altered") from exc


def _unwrap(wrapped: bytes, context: Mapping[str, str]) -> bytes:
    from botocore.exceptions import ClientError

    quiet_botocore_bodies()  # the answer holds the plaintext data key
    kwargs = {"CiphertextBlob": wrapped, "EncryptionContext": dict(context)}
    key_id = get_settings().secrets_kms_key_id
    if key_id:  # the data key must be ours, not one of another key the role could also use
        kwargs["KeyId"] = key_id
    try:
        with aws.translated("KMS", rejected=PermanentError):
            return bytes(aws.client("kms").decrypt(**kwargs)["Plaintext"])
    except PermanentError as exc:
        cause = exc.__cause__
        if isinstance(cause, ClientError) and aws.error_code(cause) == "InvalidCiphertextException":
            # KMS's answer to a context other than the one the data key was made with
            raise PermanentError(f"cannot read the stored {_what(context)}: encrypted for another record, "
                                 "or altered (KMS: InvalidCiphertextException)") from cause
        raise


def _key_id() -> str:
    key_id = get_settings().secrets_kms_key_id
    if not key_id:
        raise PermanentError("SECRETS_KMS_KEY_ID is not configured; cannot store secrets")
    return key_id


def _aad(context: Mapping[str, str]) -> bytes:
    return PREFIX.encode() + json.dumps(dict(context), sort_keys=True, separators=(",", ":")).encode()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _what(context: Mapping[str, str]) -> str:
    return "password" if context.get("purpose") == ITEM_PASSWORD else "credentials"


# -- before KMS: Fernet ------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _fernet(key: str):  # type: ignore[no-untyped-def]
    from cryptography.fernet import Fernet

    return Fernet(key.encode())


def _fernet_decrypt(token: str) -> str:
    from cryptography.fernet import InvalidToken

    key = secret("secrets_key")
    if not key:
        raise PermanentError("a secret stored before KMS needs SECRETS_KEY (or SECRETS_KEY_ARN) to be read; "
                             "re-encrypt such values with KMS (infra.local.migrate_secrets)")
    try:
        return str(_fernet(key).decrypt(token.encode()).decode())
    except InvalidToken as exc:
        raise PermanentError("a secret stored before KMS does not decrypt with the configured SECRETS_KEY") from exc
