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
    assert not drop.filter(record(b'{"CiphertextBlob": "AQID", "Plaintext": "ZGF0YWtleQ==", "KeyId": "arn"}'))
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


def test_a_secret_stored_before_kms_is_read_with_the_fetched_fernet_key(env: pytest.MonkeyPatch,
                                                                        sm: SecretsManager) -> None:
    from orderdesk.adapters import crypto

    # GIVEN only SECRETS_KEY_ARN, the secret holding the 43 characters the template generates, and
    # a password encrypted with that key the way OrderDesk stored them before KMS
    stored = Fernet.generate_key().decode().rstrip("=")
    configure(env, SECRETS_KEY_ARN=sm.create("fernet", stored))
    token = Fernet((stored + "=").encode()).encrypt(b"hunter2-password").decode()

    # WHEN it is decrypted (for whichever record: a Fernet token names none)
    plain = crypto.decrypt(token, crypto.item_context("o1", "i1"))

    # THEN it is the password, read with the stored key and its '='; it is not a KMS envelope
    assert plain == "hunter2-password" and not crypto.is_kms(token)
    # AND another Fernet key does not read it: a PermanentError that quotes nothing stored
    configure(env, SECRETS_KEY=Fernet.generate_key().decode())
    with pytest.raises(PermanentError, match="does not decrypt with the configured SECRETS_KEY") as refused:
        crypto.decrypt(token, crypto.item_context("o1", "i1"))
    assert token not in str(refused.value)


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


# -- write-only secrets under KMS (adapters.crypto): envelopes bound to their record -------------------


@pytest.fixture()
def kms(env: pytest.MonkeyPatch, sm: SecretsManager) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """moto's KMS (in-process, as Secrets Manager above) with a key configured as template.yaml
    configures SecretsKmsKey; yields every KMS call made, (operation, its answer)."""
    from botocore.client import BaseClient

    key = boto3.client("kms", region_name="us-east-1").create_key(Description="secrets")["KeyMetadata"]["Arn"]
    configure(env, SECRETS_KMS_KEY_ID=key)
    calls: list[tuple[str, dict[str, Any]]] = []
    counted = BaseClient._make_api_call

    def recorded(client: BaseClient, operation: str, params: Any) -> Any:
        answer: dict[str, Any] = {}
        try:
            answer = counted(client, operation, params)
            return answer
        finally:  # a refused call too
            if client.meta.service_model.service_name == "kms":
                calls.append((operation, answer))

    env.setattr(BaseClient, "_make_api_call", recorded)
    yield calls


def test_a_secret_round_trips_in_an_envelope_bound_to_its_record(kms: list[tuple[str, dict[str, Any]]]) -> None:
    from orderdesk.adapters import crypto

    # GIVEN a password of an order's item
    context = crypto.item_context("order-1", "item-1")

    # WHEN it is encrypted twice
    first, second = crypto.encrypt("hunter2-password", context), crypto.encrypt("hunter2-password", context)

    # THEN each is a versioned envelope (its own data key and nonce) that quotes nothing in clear ...
    assert first.startswith("kms1:") and second.startswith("kms1:") and first != second
    assert "hunter2" not in first
    # ... made with GenerateDataKey alone (what the API may do), under the configured key, with the context
    assert [op for op, _ in kms] == ["GenerateDataKey", "GenerateDataKey"]
    # AND each decrypts, for that record, with one Decrypt call (what only the steps may do)
    kms.clear()
    assert crypto.decrypt(first, context) == crypto.decrypt(second, context) == "hunter2-password"
    assert [op for op, _ in kms] == ["Decrypt", "Decrypt"]


@pytest.mark.parametrize("other", [
    {"purpose": "item-password", "order_id": "order-1", "item_id": "item-2"},  # another item of the order
    {"purpose": "item-password", "order_id": "order-2", "item_id": "item-1"},  # the same item id, another order
    {"purpose": "server-credentials", "server_id": "item-1"},  # a server
], ids=["other-item", "other-order", "server"])
def test_a_ciphertext_replayed_onto_another_record_does_not_decrypt(kms: list[tuple[str, dict[str, Any]]],
                                                                    other: dict[str, str]) -> None:
    from orderdesk.adapters import crypto

    # GIVEN a password encrypted for item-1 of order-1
    stored = crypto.encrypt("hunter2-password", crypto.item_context("order-1", "item-1"))

    # WHEN it is decrypted as the value of another record THEN KMS refuses the context: a
    # PermanentError (retrying cannot help) saying so, quoting neither the value nor the envelope
    with pytest.raises(PermanentError, match="encrypted for another record") as refused:
        crypto.decrypt(stored, other)
    assert "hunter2" not in str(refused.value) and stored[5:40] not in str(refused.value)
    assert [op for op, _ in kms][-1] == "Decrypt"


def test_server_credentials_copied_to_another_server_do_not_decrypt(kms: list[tuple[str, dict[str, Any]]]) -> None:
    from orderdesk.adapters import crypto

    stored = crypto.encrypt("WHMTOKEN-0123456789", crypto.server_context("srv-1"))
    assert crypto.decrypt(stored, crypto.server_context("srv-1")) == "WHMTOKEN-0123456789"
    with pytest.raises(PermanentError, match="credentials: encrypted for another record"):
        crypto.decrypt(stored, crypto.server_context("srv-2"))


def test_an_altered_envelope_does_not_decrypt(kms: list[tuple[str, dict[str, Any]]]) -> None:
    import base64

    from orderdesk.adapters import crypto

    # GIVEN two passwords of one item's context, and the same under another context
    context = crypto.item_context("order-1", "item-1")
    one, two = crypto.encrypt("first-password", context), crypto.encrypt("second-password", context)
    _, one_key, one_sealed = one.split(":")
    _, two_key, two_sealed = two.split(":")
    flipped = base64.b64decode(one_sealed)
    flipped = base64.b64encode(flipped[:-1] + bytes([flipped[-1] ^ 1])).decode()

    # WHEN a value is sealed under another data key, has a bit flipped, or is not an envelope at all
    # THEN none decrypts; each is a PermanentError
    for bad in (f"kms1:{one_key}:{two_sealed}", f"kms1:{one_key}:{flipped}", "kms1:not-base64!:x"):
        with pytest.raises(PermanentError):
            crypto.decrypt(bad, context)
    assert crypto.decrypt(two, context) == "second-password"


def test_no_data_key_reaches_a_log_record_at_debug(kms: list[tuple[str, dict[str, Any]]],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    import base64

    from orderdesk.adapters import crypto

    # GIVEN every logger at DEBUG (botocore logs each answer's raw body there, KMS's too)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="botocore")
    context = crypto.server_context("srv-1")

    # WHEN a value is encrypted and decrypted
    assert crypto.decrypt(crypto.encrypt("WHMTOKEN-NEVER-LOGGED", context), context) == "WHMTOKEN-NEVER-LOGGED"

    # THEN botocore logged the calls, and no record carries a plaintext data key (with it and the
    # stored envelope anyone reading the logs could open the value) nor the value
    data_keys = [base64.b64encode(answer["Plaintext"]).decode() for _, answer in kms if "Plaintext" in answer]
    assert len(data_keys) == 2 and any(r.name.startswith("botocore") for r in caplog.records)
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    assert not any(k in logged for k in data_keys) and "NEVER-LOGGED" not in logged


def test_without_a_kms_key_configured_nothing_is_stored(env: pytest.MonkeyPatch) -> None:
    from orderdesk.adapters import crypto

    with pytest.raises(PermanentError, match="SECRETS_KMS_KEY_ID is not configured"):
        crypto.encrypt("hunter2-password", crypto.server_context("srv-1"))


def test_kms_throttling_is_transient(kms: list[tuple[str, dict[str, Any]]]) -> None:
    from botocore.stub import Stubber

    from orderdesk.adapters import crypto
    from orderdesk.domain.errors import TransientError

    # GIVEN KMS throttling (stubbed on the shared client)
    with Stubber(aws.client("kms")) as stub:
        stub.add_client_error("generate_data_key", "ThrottlingException", http_status_code=400)
        # WHEN a value is stored THEN it is a TransientError (the workflows retry it, the API says 503)
        with pytest.raises(TransientError, match="KMS"):
            crypto.encrypt("hunter2-password", crypto.server_context("srv-1"))
