"""The application's secrets, wherever they live: `secret(name)`.

Locally and in tests the plain setting (SECRETS_KEY, CURSOR_SECRET, STRIPE_API_KEY, ...) is
set and wins. In AWS a function gets only the secret's ARN (SECRETS_KEY_ARN, ...) and a policy
to read that one secret: the value is fetched from Secrets Manager at first use through the
Powertools Parameters utility, which keeps it for `MAX_AGE_SECONDS` per container, so a value
never sits in the function's configuration, where lambda:GetFunctionConfiguration would show it.
Its client is `aws.client("secretsmanager")`; `aws.reset_clients()` forgets the cached values
with it.

Nothing is imported or built at module import (the Parameters utility and the client come with
the first fetch). A value is never logged: not here, and not by botocore, whose
DEBUG log of every answer's body is kept from printing a GetSecretValue answer, or a KMS answer
carrying a plaintext data key (`quiet_botocore_bodies`, which adapters.crypto calls too)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from ..config import get_settings
from ..domain.errors import PermanentError
from . import aws

# The names `secret()` knows; each has a plain setting `<name>` and an ARN setting `<name>_arn`.
NAMES = frozenset({"secrets_key", "cursor_secret", "stripe_api_key", "stripe_webhook_secret",
                   "registrar_webhook_secret", "maxmind_license_key"})

# A replaced value (a Stripe key put in after the first deploy, a rotated signing key) reaches
# every warm container within this time; a cold start pays one GetSecretValue per secret it uses.
MAX_AGE_SECONDS = 300

_quiet = threading.Lock()
_quieted = False
_provider_lock = threading.Lock()
_provider: tuple[Any, Any] | None = None  # (the client it was built on, the SecretsProvider)


def secret(name: str) -> str | None:
    """The secret `name`: its plain setting if set, else the value of the secret at its ARN
    setting (fetched once, then cached), else None (not configured)."""
    if name not in NAMES:
        raise ValueError(f"unknown secret {name!r} (known: {', '.join(sorted(NAMES))})")
    settings = get_settings()
    plain: str | None = getattr(settings, name)
    if plain:
        return plain
    arn: str | None = getattr(settings, f"{name}_arn")
    if not arn:
        return None
    value = _fetch(name, arn)
    return fernet_key(value) if name == "secrets_key" else value


def fernet_key(value: str) -> str:
    """Secrets Manager generates the Fernet key as 43 letters and digits (template.yaml: it cannot
    generate base64 itself); with the '=' padding base64url needs they are the 44 characters of a
    key that decodes to 32 bytes. The template used to append the '='; it is appended here, only
    when missing, so a proper 44-character key put into the secret works too."""
    return value + "=" * (-len(value) % 4)


def _secrets_provider() -> Any:
    """Powertools' SecretsProvider on the shared client; a new client (reset, moved endpoint)
    gets a new provider, and so an empty cache."""
    global _provider
    client = aws.client("secretsmanager")
    with _provider_lock:
        if _provider is None or _provider[0] is not client:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            _provider = (client, SecretsProvider(boto3_client=client))
        return _provider[1]


def _fetch(name: str, arn: str) -> str:
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    quiet_botocore_bodies()
    try:
        value = _secrets_provider().get(arn, max_age=MAX_AGE_SECONDS)
    except GetParameterError as exc:
        # The message names the secret and AWS's error code only; Powertools' own text quotes
        # botocore's, which may carry more than we want in a step's error output.
        sdk = _sdk_error(exc)
        error = aws.StorageUnavailable if aws.is_transient(sdk) else PermanentError
        reason = aws.error_code(sdk) or type(sdk).__name__
        raise error(f"secret {name} could not be read from Secrets Manager ({reason})") from exc
    if not isinstance(value, str) or not value:
        raise PermanentError(f"secret {name} has no string value in Secrets Manager")
    return value


def _sdk_error(exc: BaseException) -> BaseException:
    """The SDK's exception under Powertools' GetParameterError (raised while handling it)."""
    return exc.__cause__ or exc.__context__ or exc


class _NoSecretBodies(logging.Filter):
    """botocore.parsers logs every answer's raw body at DEBUG: drop the ones carrying a secret (a
    secret's value, or KMS's plaintext data key, which opens the value stored beside it)."""

    MARKS = (b'"SecretString"', b'"SecretBinary"', b'"Plaintext"')

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        return not any(isinstance(a, bytes | bytearray) and any(m in a for m in self.MARKS) for a in args)


def quiet_botocore_bodies() -> None:
    global _quieted
    with _quiet:
        if not _quieted:
            logging.getLogger("botocore.parsers").addFilter(_NoSecretBodies())
            _quieted = True
