"""The secret store (orderdesk.adapters.secret_store) and the code that reads secrets through it.

Secrets Manager is moto's in-process mock (`mock_aws`): a unit test of one adapter function,
whose only AWS call is GetSecretValue. The plain settings the local stack and the tests use win;
an ARN is fetched at first use, once, and kept for MAX_AGE_SECONDS."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
import time_machine
from cryptography.fernet import Fernet
from moto import mock_aws

from orderdesk.adapters import aws, secret_store
from orderdesk.config import reset_settings
from orderdesk.domain.errors import PermanentError
from tests.template.support import REPO_ROOT

PLAIN = tuple(sorted(name.upper() for name in secret_store.NAMES))  # every secret's plain setting


class SecretsManager:
    """moto's Secrets Manager, counting the GetSecretValue calls any client makes."""

    def __init__(self) -> None:
        self.client = boto3.client("secretsmanager", region_name="us-east-1")
        self.reads = 0

    def create(self, name: str, value: str) -> str:
        return str(self.client.create_secret(Name=name, SecretString=value)["ARN"])


@pytest.fixture()
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No secret configured, no endpoint override; settings, clients and cached values forgotten."""
    from aws_lambda_powertools.utilities import parameters

    for name in PLAIN:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_ARN", raising=False)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "POWERTOOLS_PARAMETERS_MAX_AGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    parameters.clear_caches()
    reset_settings()
    aws.reset_clients()
    yield monkeypatch
    parameters.clear_caches()
    monkeypatch.undo()
    reset_settings()
    aws.reset_clients()


@pytest.fixture()
def sm(env: pytest.MonkeyPatch) -> Iterator[SecretsManager]:
    from botocore.client import BaseClient

    with mock_aws():
        store = SecretsManager()
        call = BaseClient._make_api_call

        def counted(client: BaseClient, operation: str, params: Any) -> Any:
            # the Parameters utility makes its own client: count at the one place every call passes
            if operation == "GetSecretValue":
                store.reads += 1
            return call(client, operation, params)

        env.setattr(BaseClient, "_make_api_call", counted)
        yield store


def configure(env: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        env.setenv(name, value)
    reset_settings()


# -- which value wins -----------------------------------------------------------------------


def test_plain_value_wins_over_the_arn_and_nothing_is_fetched(env: pytest.MonkeyPatch, sm: SecretsManager) -> None:
    # GIVEN a plain value (the local stack, the tests) and an ARN of a secret holding another one
    arn = sm.create("cursor", "from-secrets-manager")
    configure(env, CURSOR_SECRET="plain-value", CURSOR_SECRET_ARN=arn)

    # WHEN the secret is read
    value = secret_store.secret("cursor_secret")

    # THEN the plain value is the answer, and Secrets Manager was not asked
    assert value == "plain-value"
    assert sm.reads == 0


def test_arn_is_fetched_once_then_served_from_the_cache(env: pytest.MonkeyPatch, sm: SecretsManager) -> None:
    # GIVEN only an ARN, as in AWS
    arn = sm.create("stripe", "sk_live_first")
    configure(env, STRIPE_API_KEY_ARN=arn)

    # WHEN the secret is read three times
    values = [secret_store.secret("stripe_api_key") for _ in range(3)]

    # THEN it is the secret's value, fetched once
    assert values == ["sk_live_first"] * 3
    assert sm.reads == 1


def test_a_replaced_value_is_seen_after_max_age(env: pytest.MonkeyPatch, sm: SecretsManager) -> None:
    # GIVEN a secret read once, then replaced in Secrets Manager (the real Stripe key put in)
    arn = sm.create("stripe", "sk_placeholder")
    configure(env, STRIPE_API_KEY_ARN=arn)
    with time_machine.travel(0, tick=False) as clock:
        clock.move_to("2030-01-01T00:00:00Z")
        assert secret_store.secret("stripe_api_key") == "sk_placeholder"
        sm.client.put_secret_value(SecretId=arn, SecretString="sk_live_real")

        # WHEN read again within MAX_AGE_SECONDS, and after it
        clock.shift(timedelta(seconds=secret_store.MAX_AGE_SECONDS - 1))
        cached = secret_store.secret("stripe_api_key")
        clock.shift(timedelta(seconds=2))
        fresh = secret_store.secret("stripe_api_key")

    # THEN the cached value first, then the new one, with one more fetch
    assert (cached, fresh) == ("sk_placeholder", "sk_live_real")
    assert sm.reads == 2


def test_nothing_configured_is_none(env: pytest.MonkeyPatch) -> None:
    # GIVEN neither a plain value nor an ARN (no AWS mock: a call would fail)
    # THEN every known secret is None
    assert {name: secret_store.secret(name) for name in secret_store.NAMES} == dict.fromkeys(secret_store.NAMES)


def test_an_unknown_name_is_refused(env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="unknown secret"):
        secret_store.secret("table_name")


# -- the Fernet key -------------------------------------------------------------------------


# fixed ids: a random key in a test's id differs between pytest-xdist's workers (make test-fast)
@pytest.mark.parametrize("stored", ["a" * 43, Fernet.generate_key().decode()], ids=["43-characters", "whole-key"])
def test_secrets_key_is_a_fernet_key_whether_stored_padded_or_not(env: pytest.MonkeyPatch, sm: SecretsManager,
                                                                  stored: str) -> None:
    # GIVEN the 43 letters and digits Secrets Manager generates, or a whole 44-character key
    configure(env, SECRETS_KEY_ARN=sm.create("fernet", stored))

    # WHEN it is read
    key = secret_store.secret("secrets_key")

    # THEN it is the stored value padded to a Fernet key ('=' added only when missing)
    assert key == (stored + "=" if len(stored) == 43 else stored)
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"


def test_only_the_fernet_key_is_padded(env: pytest.MonkeyPatch, sm: SecretsManager) -> None:
    # GIVEN a 43-character signing secret
    configure(env, REGISTRAR_WEBHOOK_SECRET_ARN=sm.create("webhook", "b" * 43))
    # THEN it is used exactly as stored (the registrar endpoint holds the same value)
    assert secret_store.secret("registrar_webhook_secret") == "b" * 43


# -- failures and logs ----------------------------------------------------------------------


def test_a_missing_secret_is_a_permanent_error_naming_the_setting(env: pytest.MonkeyPatch, sm: SecretsManager) -> None:
    # GIVEN an ARN of a secret that does not exist
    configure(env, CURSOR_SECRET_ARN="arn:aws:secretsmanager:us-east-1:123456789012:secret:gone-AbCdEf")

    # WHEN it is read THEN a PermanentError names the setting and AWS's code
    with pytest.raises(PermanentError, match=r"secret cursor_secret .*\(ResourceNotFoundException\)"):
        secret_store.secret("cursor_secret")


def test_a_throttled_read_is_transient_naming_the_setting(env: pytest.MonkeyPatch) -> None:
    from botocore.stub import Stubber

    from orderdesk.domain.errors import TransientError

    # GIVEN an ARN, and Secrets Manager throttling the read (stubbed on the shared client)
    configure(env, CURSOR_SECRET_ARN="arn:aws:secretsmanager:us-east-1:123456789012:secret:busy-AbCdEf")
    with Stubber(aws.client("secretsmanager")) as stub:
        stub.add_client_error("get_secret_value", "ThrottlingException", http_status_code=400)

        # WHEN it is read THEN a TransientError (retried by the workflows) names the setting and the code
        with pytest.raises(TransientError, match=r"secret cursor_secret .*\(ThrottlingException\)"):
            secret_store.secret("cursor_secret")


def test_a_fetched_value_is_in_no_log_record_at_debug(env: pytest.MonkeyPatch, sm: SecretsManager,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN every logger at DEBUG (botocore logs each answer's raw body there)
    caplog.set_level(logging.DEBUG)
    for noisy in ("botocore", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=noisy)
    configure(env, STRIPE_API_KEY_ARN=sm.create("stripe", "sk_live_NEVER_LOGGED"))
    caplog.clear()

    # WHEN the secret is fetched
    assert secret_store.secret("stripe_api_key") == "sk_live_NEVER_LOGGED"

    # THEN botocore logged the call, and no record carries the value
    assert any(r.name.startswith("botocore") for r in caplog.records)
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    assert "NEVER_LOGGED" not in logged


def test_the_log_filter_drops_only_answers_carrying_a_secret() -> None:
    drop = secret_store._NoSecretBodies()

    def record(body: bytes) -> logging.LogRecord:
        return logging.LogRecord("botocore.parsers", logging.DEBUG, __file__, 1, "Response body:\n%r", (body,), None)

    assert not drop.filter(record(b'{"ARN": "arn", "SecretString": "s3cr3t"}'))
    assert not drop.filter(record(b'{"ARN": "arn", "SecretBinary": "czNjcjN0"}'))
    assert drop.filter(record(b'{"TableNames": []}'))


# -- nothing at import time -----------------------------------------------------------------


def test_importing_the_store_and_its_readers_loads_no_sdk_and_fetches_nothing() -> None:
    # GIVEN a fresh interpreter with ARNs configured, as in AWS
    code = (
        "import sys\n"
        "import orderdesk.adapters.secret_store, orderdesk.services.cursor, orderdesk.adapters.crypto\n"
        "loaded = sorted(m for m in ('boto3', 'botocore.client', 'aws_lambda_powertools.utilities.parameters')\n"
        "                if m in sys.modules)\n"
        "from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS\n"
        "print(loaded, dict(DEFAULT_PROVIDERS))\n"
    )
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{REPO_ROOT}/layers/common/python", "AWS_REGION": "us-east-1",
           "SECRETS_KEY_ARN": arn, "CURSOR_SECRET_ARN": arn}

    # WHEN the store and the modules reading through it are imported
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout

    # THEN neither boto3, a client nor the Parameters utility was loaded, and no provider exists
    assert out.strip() == "[] {}"


# -- every reader goes through the store ----------------------------------------------------


def test_write_only_secrets_encrypt_with_the_fetched_key(env: pytest.MonkeyPatch, sm: SecretsManager) -> None:
    from orderdesk.adapters import crypto

    # GIVEN only SECRETS_KEY_ARN, the secret holding the 43 characters the template generates
    stored = Fernet.generate_key().decode().rstrip("=")
    configure(env, SECRETS_KEY_ARN=sm.create("fernet", stored))

    # WHEN a password is encrypted
    token = crypto.encrypt("hunter2-password")

    # THEN it round-trips, and the key is the stored one with its '='
    assert crypto.decrypt(token) == "hunter2-password"
    assert Fernet((stored + "=").encode()).decrypt(token.encode()) == b"hunter2-password"


def test_cursors_are_signed_with_the_fetched_key(env: pytest.MonkeyPatch, sm: SecretsManager) -> None:
    from orderdesk.domain.errors import ValidationFailed
    from orderdesk.services import cursor

    # GIVEN a cursor signed with the key behind CURSOR_SECRET_ARN
    configure(env, CURSOR_SECRET_ARN=sm.create("cursor", "aws-cursor-key"))
    issued = cursor.encode("pos", "fp")

    # THEN the same key as a plain value accepts it, another key refuses it
    configure(env, CURSOR_SECRET="aws-cursor-key")
    assert cursor.decode(issued, "fp") == "pos"
    configure(env, CURSOR_SECRET="another-key")
    with pytest.raises(ValidationFailed):
        cursor.decode(issued, "fp")


def test_cursors_without_any_key_are_signed_as_before(env: pytest.MonkeyPatch) -> None:
    from orderdesk.services import cursor

    # GIVEN no cursor key at all: signed with the local default, as the settings did before
    issued = cursor.encode("pos", "fp")
    configure(env, CURSOR_SECRET="orderdesk-local-cursor-secret")
    assert cursor.encode("pos", "fp") == issued


def test_stripe_registrar_and_minfraud_use_the_fetched_keys(env: pytest.MonkeyPatch, sm: SecretsManager) -> None:
    from orderdesk.adapters import gateways, registrars
    from orderdesk.adapters.fraud import maxmind

    # GIVEN only the ARNs of the Stripe key, the webhook signing secret and the licence key
    configure(env, STRIPE_API_KEY_ARN=sm.create("stripe", "sk_test_from_arn"),
              REGISTRAR_WEBHOOK_URL="https://registrar.example/hook",
              REGISTRAR_WEBHOOK_SECRET_ARN=sm.create("webhook", "signing-from-arn"),
              MAXMIND_ACCOUNT_ID="42", MAXMIND_LICENSE_KEY_ARN=sm.create("maxmind", "licence-from-arn"))

    # WHEN each builds what it calls out with (no call is made)
    gateways._stripe()
    registrar = registrars.registrar_for("webhook")
    maxmind._minfraud()

    # THEN each holds the value fetched from its secret
    assert gateways._client_for == ("sk_test_from_arn", None)
    assert isinstance(registrar, registrars.WebhookRegistrar) and registrar.secret == "signing-from-arn"
    assert maxmind._client_key is not None and maxmind._client_key[1] == "licence-from-arn"
