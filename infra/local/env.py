"""The environment the local stack gives the code: the same variables as in AWS (table, auth,
secrets, and botocore's ``AWS_ENDPOINT_URL_<SERVICE>`` for each local endpoint), so no code path
differs; and ``EnvPatch``, which sets them and puts the caller's back when the stack stops."""

from __future__ import annotations

import os

from infra.local import machine_clients
from infra.local import template_wiring as tw
from infra.local.files import LocalFiles

TABLE_NAME = "orderdesk"
AUTH_ISSUER = "orderdesk-local"
AUTH_AUDIENCE = "orderdesk"
REGION = tw.REGION
ACCOUNT_ID = tw.ACCOUNT_ID
ROLES = ("viewer", "support", "billing", "admin")


class EnvPatch:
    """Sets environment variables and remembers what they were; ``restore()`` puts them back.
    ``None`` removes a variable."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def apply(self, values: dict[str, str | None], *, keep_existing: bool = False) -> None:
        for name, value in values.items():
            if keep_existing and name in os.environ and name not in self._saved:
                continue
            self._saved.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def names(self) -> set[str]:
        return set(self._saved)

    def restore(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()


def base_environment(files: LocalFiles) -> dict[str, str | None]:
    """Everything but the endpoints: credentials, region, table, auth and secrets."""
    return {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": None,
        "AWS_PROFILE": None,
        "AWS_DEFAULT_PROFILE": None,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        # a global override or "ignore configured endpoints" would defeat the per-service ones
        "AWS_ENDPOINT_URL": None,
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": None,
        "AWS_LAMBDA_FUNCTION_NAME": None,
        "TABLE_NAME": TABLE_NAME,
        "AUTH_ISSUER": AUTH_ISSUER,
        "AUTH_AUDIENCE": AUTH_AUDIENCE,
        "AUTH_PUBLIC_KEY_FILE": str(files.public_key),
        "AUTH_MACHINE_CLIENT_IDS": machine_clients.allowed_setting(),
        "AUTH_JWKS_URL": None,
        "COGNITO_DOMAIN": None,
        "COGNITO_CLIENT_ID": None,
        # only a data directory of before KMS has one (its values are re-encrypted at start)
        "SECRETS_KEY": files.secrets_key.read_text().strip() if files.secrets_key.exists() else None,
        "CURSOR_SECRET": files.cursor_secret.read_text().strip(),
        # sign registrar events to POST /registrar/events with it (README: For registrars)
        "REGISTRAR_WEBHOOK_SECRET": files.registrar_secret.read_text().strip(),
        "STRIPE_WEBHOOK_SECRET": files.stripe_webhook_secret.read_text().strip(),
        "EMAIL_OUTBOX_DIR": str(files.outbox),
        # webhooks and stand-ins on this machine (the demo server's http://127.0.0.1 URL); off in AWS
        "ALLOW_LOOPBACK_OUTBOUND": "true",
        "POWERTOOLS_SERVICE_NAME": "orderdesk",
        # the business metrics are EMF lines for CloudWatch: not printed in `make run`'s terminal
        # unless asked for (POWERTOOLS_METRICS_DISABLED=false make run)
        "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED") or "true",
    }


def dynamodb_environment(endpoint: str) -> dict[str, str | None]:
    return {"AWS_ENDPOINT_URL_DYNAMODB": endpoint, "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": endpoint}


def moto_environment(endpoint: str) -> dict[str, str | None]:
    # botocore's names: SFN (not STEPFUNCTIONS), SCHEDULER, SQS, EVENTBRIDGE, KMS; LAMBDA for a
    # direct Invoke (the export function's start); S3 for the export files, whose presigned URLs
    # then point at moto's port, which the browser downloads from
    return {f"AWS_ENDPOINT_URL_{service}": endpoint
            for service in ("SFN", "SQS", "SCHEDULER", "LAMBDA", "EVENTBRIDGE", "S3", "KMS")}


def reset_cached_clients() -> None:
    """Settings and SDK clients are cached on first use; the stack moves endpoints under them."""
    from orderdesk.adapters import aws
    from orderdesk.config import reset_settings

    reset_settings()
    aws.reset_clients()


# A key in Stripe's test form that only the local stand-in takes (infra.local.fake_stripe): Cancel &
# Refund of a Stripe payment works with no Stripe account. Never used outside the local stack.
LOCAL_STRIPE_API_KEY = "sk_test_orderdesk_local"


def stripe_environment(api_base: str) -> dict[str, str | None]:
    """Stripe's API answered by the local stand-in (its refunds), with the local dummy key."""
    return {"STRIPE_API_BASE": api_base, "STRIPE_API_KEY": LOCAL_STRIPE_API_KEY, "STRIPE_API_KEY_ARN": None}
